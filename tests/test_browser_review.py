"""The replay page in a real headless Chromium: clicking a key-moment marker seeks the video
there, and a reviewer's comment with a rating is posted and shown.

The fixture interview is processed and analysed for real, with speech-to-text turned off in this
installation (`disabled_plugins`) so the analysis is quick: the vision analyzer still finds the
face-absent and movement spans that become timeline markers.
"""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher
from werkzeug.serving import make_server

from conftest import FIXTURES, PASSWORD
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis import consent
from talentreel.server.analysis import report as report_mod
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.analysis import analyze_recording
from talentreel.workers.media import process_recording

from test_browser_replay import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def settings(settings):
    settings["disabled_plugins"] = ["analyzer_stt_pocketsphinx", "analyzer_stt_vosk"]
    return settings


@pytest.fixture
def analysed(app, db):
    worker_base.set_app(app)
    candidate = m.Candidate.create(organisation=default_organisation(), name="Replay candidate")
    interview = m.Interview.create(candidate=candidate, questions=["Tell me about a team."])
    consent.record(interview, None, "2025-01", ai=True, vision_voice=True)
    recording = ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "interview.mp4", candidate=candidate,
                            interview=interview, original_name="interview.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    return m.Recording.get_by_id(recording.id)


@pytest.fixture
def page(chromium_executable, app, db, make_user, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    reviewer = make_user("reviewer", roles=("hr",), display_name="Rita Reviewer")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.goto(base + "/login")
            page.fill("input[name=username]", reviewer.username)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation(url=base + "/"):
                page.click("main form button[type=submit]")
            page.base = base
            yield page
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _ready(page):
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=30000)
    page.evaluate("() => { document.getElementById('player').muted = true; }")


def test_clicking_a_key_moment_marker_seeks_the_video(page, analysed):
    moments = report_mod.latest(analysed).data["moments"]
    target = next(mo for mo in moments if mo["start"] > 5)  # not the opening seconds: a seek must be visible
    page.goto(f"{page.base}/recordings/{analysed.id}")
    _ready(page)
    assert page.evaluate("() => document.getElementById('player').currentTime") < 1
    marker = page.locator(f".marker[data-seek='{target['start']}']").first
    assert marker.is_visible()
    page.evaluate("""() => { window.__seeked = new Promise((resolve) => document.getElementById('player')
        .addEventListener('seeked', () => resolve(document.getElementById('player').currentTime), { once: true })); }""")
    marker.click()
    landed = page.evaluate("() => window.__seeked")
    assert abs(landed - target["start"]) < 0.5, (landed, target)
    assert page.evaluate("() => document.getElementById('player').error") is None
    assert not page.errors, page.errors


def test_posting_a_comment_with_a_rating_shows_it(page, analysed):
    page.goto(f"{page.base}/recordings/{analysed.id}")
    _ready(page)
    page.evaluate("""() => new Promise((resolve) => { const v = document.getElementById('player');
        v.addEventListener('seeked', () => resolve(), { once: true }); v.currentTime = 33.3; })""")
    page.fill("#comment-body", "Looked away while thinking; answer was solid.")
    page.select_option("#comment-rating", "4")
    page.select_option("#comment-about", "moment")  # fills the moment with where the video is
    assert page.input_value("#comment-start") == "33.3"
    with page.expect_navigation():
        page.click("#comment-form button[type=submit]")
    comment = page.locator(".comment-list .comment").first
    assert "Looked away while thinking; answer was solid." in comment.inner_text()
    assert "4/5" in comment.inner_text() and "Rita Reviewer" in comment.inner_text()
    stored = m.ReviewComment.get()
    assert (stored.rating, stored.start_seconds, stored.author_name) == (4, 33.3, "Rita Reviewer")
    # The comment's moment seeks the video too.
    comment.locator("button[data-seek]").click()
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 33.3) < 1.5", timeout=10000)
    assert not page.errors, page.errors
