"""Done-when of the talent pool, in a real headless Chromium: on the demo data plus the fixture
interview (processed, analysed and tagged by a real worker), searching for a competency the
fixture shows finds the candidate, and its moment opens the replay at the answer that shows it."""

from __future__ import annotations

import json

import pytest
import redis as redis_lib

from conftest import FIXTURES, REDIS_SERVER
from talentreel.server import models as m
from talentreel.server.demo import CANDIDATES, seed
from talentreel.server.recordings import ingest_file
from talentreel.workers.worker import run_worker
from test_browser_replay import live_server, page  # noqa: F401  (fixtures: signed-in HR page on a live server)

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

INTERVIEW = FIXTURES / "interview_en"
TRUTH = json.loads((INTERVIEW / "truth.json").read_text())
NEGOTIATION_ANSWER = [s for s in TRUTH["segments"] if s["speaker"] == "candidate" and s["question_index"] == 2]


@pytest.fixture
def settings(settings):
    settings["redis_url"] = f"{REDIS_SERVER}/8"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


def test_search_a_competency_and_land_on_the_answer(page, app):  # noqa: F811
    seed()
    candidate = m.Candidate.get(m.Candidate.email == CANDIDATES[2][1])  # Sarah Miller, a demo candidate
    interview = m.Interview.get(m.Interview.candidate == candidate)
    interview.questions = [s["text"] for s in TRUTH["segments"] if s["speaker"] == "interviewer"]
    interview.save()
    recording = ingest_file(app.extensions["talentreel"], INTERVIEW / "interview.mp4", candidate=candidate,
                            interview=interview, original_name="interview.mp4")
    run_worker(app, ["media", "analysis"], burst=True)  # media, then analysis, then the tagging job it queues
    assert m.Recording.get_by_id(recording.id).state == "ready"
    assert m.CandidateTag.select().join(m.Tag).where((m.CandidateTag.candidate == candidate) & (m.Tag.name == "negotiation")).exists()

    page.goto(f"{page.base}/pool")
    page.fill("input[name=q]", "negotiation")
    with page.expect_navigation():
        page.click("form#pool-search button[type=submit]")
    row = page.locator(f"tr.hit[data-candidate='{candidate.id}']")
    assert row.count() == 1
    link = row.locator("a.moment").first
    href = link.get_attribute("href")
    assert href.startswith(f"/recordings/{recording.id}?t=")
    with page.expect_navigation(url=f"{page.base}/recordings/{recording.id}?t=**"):
        link.click()
    start, end = NEGOTIATION_ANSWER[0]["start"], NEGOTIATION_ANSWER[-1]["end"]
    page.wait_for_function("() => { const v = document.getElementById('player'); return v && v.readyState >= 1 && v.currentTime > 0; }",
                           timeout=30000)
    at = page.evaluate("() => document.getElementById('player').currentTime")
    assert start - 1.0 <= at <= start + 3.0 and at < end, f"replay opened at {at}s, the negotiation answer starts at {start}s"
    assert not page.errors, page.errors
