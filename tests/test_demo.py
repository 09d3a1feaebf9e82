"""The demo data: its ready replay of the fixture interview carries the questions the recording
actually asks, so its report attaches every answer (and the talent pool finds its moments)."""

from __future__ import annotations

from conftest import FIXTURES
from talentreel.server import models as m
from talentreel.server.demo import CANDIDATES, questions_asked_in, seed, seed_replay

INTERVIEW = FIXTURES / "interview_en" / "interview.mp4"


def test_questions_asked_come_from_the_fixture_truth(tmp_path):
    asked = questions_asked_in(INTERVIEW)
    assert len(asked) == 3 and asked[2] == "Describe a negotiation with a difficult customer."
    clip = tmp_path / "other.mp4"
    clip.write_bytes(b"")
    assert questions_asked_in(clip) == []  # no truth beside it: the interview keeps its list


def test_the_demo_replay_asks_what_the_recording_asks(app, db):
    seed()
    recording_id = seed_replay(app, INTERVIEW)
    recording = m.Recording.get_by_id(recording_id)
    assert recording.state == "ready"
    assert recording.candidate.email == CANDIDATES[0][1]
    assert recording.interview.questions == questions_asked_in(INTERVIEW)
