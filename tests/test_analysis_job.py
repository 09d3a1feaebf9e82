"""The analysis job end to end on the fixture interview: every analyzer's status, the report's
shape, versions, and the accuracy bars measured against truth.json."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis import report as report_mod
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.analysis import analyze_recording
from talentreel.workers.media import process_recording

INTERVIEW = FIXTURES / "interview_en"
TRUTH = json.loads((INTERVIEW / "truth.json").read_text())
QUESTIONS = [s["text"] for s in TRUTH["segments"] if s["speaker"] == "interviewer"]


@pytest.fixture
def analysed(app, db):
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    org = default_organisation()
    candidate = m.Candidate.create(organisation=org, name="Fixture candidate")
    interview = m.Interview.create(candidate=candidate, questions=QUESTIONS)
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, interview=interview, original_name="interview.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    return m.Recording.get_by_id(recording.id)


def test_report_is_versioned_and_names_every_analyzer(analysed, app):
    report = report_mod.latest(analysed)
    assert report.version == 1
    data = report.data
    assert data["schema_version"] == report_mod.REPORT_SCHEMA_VERSION
    statuses = {s["name"]: s for s in data["analysis"]}
    assert statuses["vision"]["state"] == "ran"
    for status in statuses.values():
        assert status["state"] in ("ran", "skipped", "failed")
        if status["state"] != "ran":
            assert status["reason"], status
    assert data["analyzers"] == {n: s["version"] for n, s in statuses.items() if s["state"] == "ran"}
    analyze_recording(analysed.id)
    assert report_mod.latest(analysed).version == 2  # a new analysis adds a version


def test_vision_cues_match_the_truth(analysed):
    events = report_mod.latest(analysed).data["parts"]["vision"]["events"]
    for truth_key, kind in (("face_absent", "face_absent"), ("face_moving", "movement")):
        for span in TRUTH[truth_key]:
            found = [e for e in events if e["kind"] == kind and abs(e["start"] - span["start"]) <= 1 and abs(e["end"] - span["end"]) <= 1]
            assert found, f"{kind} {span} not found within 1 s in {[(e['kind'], e['start'], e['end']) for e in events]}"


def test_organisation_can_turn_vision_and_voice_off(app, db):
    worker_base.set_app(app)
    org = default_organisation()
    org.settings = {"analysis": {"vision_voice": False}}
    org.save()
    candidate = m.Candidate.create(organisation=org, name="No vision")
    recording = ingest_file(app.extensions["talentreel"], INTERVIEW / "interview.mp4", candidate=candidate, original_name="i.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    statuses = {s["name"]: s for s in report_mod.latest(recording).data["analysis"]}
    assert statuses["vision"]["state"] == "skipped"
    assert "turned vision and voice analysis off" in statuses["vision"]["reason"]
    assert "vision" not in report_mod.latest(recording).data["parts"]
