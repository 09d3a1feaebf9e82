"""Upload the fixture recordings from the UI, let the worker process them, and play and seek each
in a real headless Chromium: interview.mp4 and legacy_h264.flv are remuxed, the Sorenson FLV is
transcoded."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis as redis_lib
from argon2 import PasswordHasher
from werkzeug.serving import make_server

from conftest import FIXTURES, PASSWORD, REDIS_SERVER, ROOT
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.playback import edge
from talentreel.workers.worker import run_worker

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
ARTIFACTS = ROOT / "test-artifacts"
INTERVIEW = FIXTURES / "interview_en"


@pytest.fixture
def media_socket():
    sock = edge.listen("127.0.0.1", 0)
    yield sock
    sock.close()


@pytest.fixture
def settings(settings, request):
    if "media_socket" in request.fixturenames:
        # Players fetch media from a media server on another port: another origin (CORS, CSP).
        settings["media_url"] = f"http://{{host}}:{request.getfixturevalue('media_socket').getsockname()[1]}"
    settings["redis_url"] = f"{REDIS_SERVER}/12"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def media_server(app, media_socket):
    server = edge.MediaServer(app)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(edge.serve(server, media_socket, stop),), daemon=True)
    thread.start()
    yield media_socket.getsockname()[1]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    server.pool.shutdown(wait=False)


@pytest.fixture
def page(chromium_executable, live_server, db, make_user, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hr = make_user("replay_hr", roles=("hr",))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(live_server + "/login")
        page.fill("input[name=username]", hr.username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation(url=live_server + "/"):
            page.click("main form button[type=submit]")
        page.base = live_server
        yield page
        browser.close()


@pytest.mark.parametrize("name, how", [
    ("interview.mp4", "remux"),
    ("legacy_h264.flv", "remux"),
    ("legacy_sorenson.flv", "transcode"),
])
def test_upload_play_and_seek(page, app, name, how):
    upload_play_and_seek(page, app, name, how)


def test_plays_and_seeks_from_the_media_server(media_server, page, app):
    played = []
    page.on("response", lambda r: played.append(r.status) if f":{media_server}/media/" in r.url else None)
    upload_play_and_seek(page, app, "interview.mp4", "remux", screenshot="replay-media-server.png")
    assert 206 in played, "the video was not fetched from the media server"


def upload_play_and_seek(page, app, name, how, screenshot=None):
    candidate = m.Candidate.create(organisation=default_organisation(), name=f"Candidate for {name}")
    page.goto(f"{page.base}/candidates/{candidate.id}")
    page.click("text=Upload a recording")
    page.set_input_files("input[type=file]", str(INTERVIEW / name))
    with page.expect_navigation(url=f"{page.base}/recordings/**", timeout=60000):
        page.click("form#upload-form button[type=submit]")
    assert page.locator("#processing").count() == 1  # not ready yet: the worker has not run

    run_worker(app, ["media"], burst=True)  # the worker processes it; the page notices by itself
    page.wait_for_selector("video#player", timeout=30000)

    recording = m.Recording.get(m.Recording.candidate == candidate)
    assert recording.state == "ready", recording.error
    assert recording.media["how"] == how
    assert page.locator("dd", has_text="remuxed" if how == "remux" else "transcoded").count() == 1

    video = page.locator("video#player")
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('player').currentTime > 1", timeout=30000)
    duration = page.evaluate("() => document.getElementById('player').duration")
    assert 69 < duration < 71
    page.evaluate("""() => new Promise((resolve) => {
        const v = document.getElementById('player');
        v.addEventListener('seeked', () => resolve(), { once: true });
        v.currentTime = 45;
    })""")
    page.wait_for_function("() => { const v = document.getElementById('player'); return v.readyState >= 2 && v.currentTime >= 45; }",
                           timeout=30000)
    assert page.evaluate("() => document.getElementById('player').error") is None
    # The pictures job ran after the recording became ready: the page shows its poster and
    # hover-scrubbing shows a thumbnail from the sprite.
    page.wait_for_function("() => document.getElementById('player').getAttribute('poster')", timeout=30000)
    assert_sprite_thumbnail(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / (screenshot or f"replay-{name}.png")))
    assert not page.errors, page.errors
    assert video.count() == 1


def assert_sprite_thumbnail(page):
    """Hovering the scrub bar shows a thumbnail cut from the sprite (once its index has loaded)."""
    box = page.locator("#scrub").bounding_box()
    for step in range(50):
        page.mouse.move(box["x"] + box["width"] * (0.3 + step / 200), box["y"] + box["height"] / 2)
        if "sprite.jpg" in page.evaluate("() => document.getElementById('scrub-thumb').style.backgroundImage"):
            break
        page.wait_for_timeout(200)
    else:
        raise AssertionError("no sprite thumbnail while hovering the scrub bar")
    assert page.locator("#scrub-thumb").is_visible()


def test_pictures_arrive_on_an_open_replay_without_reloading_it(page, app):
    """The video plays as soon as the media job stored it; its poster and sprite come from the
    next job. A replay opened in between shows them when they arrive, and the video is not
    reloaded (it may be playing)."""
    from talentreel.server.recordings import ingest_file
    from talentreel.workers import base as worker_base
    from talentreel.workers.media import make_pictures, process_recording

    candidate = m.Candidate.create(organisation=default_organisation(), name="Candidate before pictures")
    recording = ingest_file(app.extensions["talentreel"], INTERVIEW / "legacy_h264.flv", candidate=candidate,
                            original_name="legacy_h264.flv", enqueue=False)
    worker_base.set_app(app)
    process_recording(recording.id)
    page.goto(f"{page.base}/recordings/{recording.id}")
    assert page.get_attribute("video#player", "poster") is None
    assert page.get_attribute("#replay", "data-pictures") == "pending"
    page.evaluate("() => { window.notReloaded = true; const v = document.getElementById('player'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('player').currentTime > 0.5", timeout=30000)

    make_pictures(recording.id)
    page.wait_for_function("() => document.getElementById('player').getAttribute('poster')", timeout=15000)
    assert "poster.jpg" in page.get_attribute("video#player", "poster")
    assert page.evaluate("() => window.notReloaded === true")
    assert_sprite_thumbnail(page)
    assert page.evaluate("() => document.getElementById('player').error") is None
    assert not page.errors, page.errors
