"""The analysis job end to end on the fixture interview: every analyzer's status, the report's
shape, versions, and the accuracy bars measured against truth.json."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis import consent as consent_mod
from talentreel.server.analysis import report as report_mod
from talentreel.server.analysis import report_schema
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
    consent_mod.record(interview, None, "2025-01", ai=True, vision_voice=True)
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, interview=interview, original_name="interview.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    return m.Recording.get_by_id(recording.id)


def test_fixture_interview_report(analysed, app):
    """One analysis of the fixture (speech-to-text is the slow part), checked against every bar."""
    from talentreel.server.analysis.audio.wer import word_error_rate

    report = report_mod.latest(analysed)
    assert report.version == 1
    data = report.data
    assert data["schema_version"] == report_mod.REPORT_SCHEMA_VERSION
    statuses = {s["name"]: s for s in data["analysis"]}
    for name in ("stt-pocketsphinx", "voice", "vision", "questions", "language"):
        assert statuses[name]["state"] == "ran", statuses[name]
    assert statuses["stt-vosk"]["state"] == "skipped" and "pocketsphinx" in statuses["stt-vosk"]["reason"]
    assert data["analyzers"] == {n: s["version"] for n, s in statuses.items() if s["state"] == "ran"}

    # Speech-to-text: word error rate against everything said.
    assert data["transcript"]["engine"] == "pocketsphinx"
    reference = " ".join(s["text"] for s in TRUTH["segments"])
    hypothesis = " ".join(w["word"] for w in data["transcript"]["words"])
    assert word_error_rate(reference, hypothesis) <= 0.15

    # Voice: every silence within 0.5 s, and no hesitation inside fluent speech.
    pauses = [e for e in data["parts"]["voice"]["events"] if e["kind"] in ("hesitation", "before_answer")]
    for silence in TRUTH["silences"]:
        match = [p for p in pauses if abs(p["start"] - silence["start"]) <= 0.5 and abs(p["end"] - silence["end"]) <= 0.5]
        assert match, f"silence {silence} not found within 0.5 s in {[(p['kind'], p['start'], p['end']) for p in pauses]}"
    assert len(pauses) == len(TRUTH["silences"])

    # Vision: the face-absent and movement spans within 1 s.
    events = data["parts"]["vision"]["events"]
    for truth_key, kind in (("face_absent", "face_absent"), ("face_moving", "movement")):
        for span in TRUTH[truth_key]:
            found = [e for e in events if e["kind"] == kind and abs(e["start"] - span["start"]) <= 1 and abs(e["end"] - span["end"]) <= 1]
            assert found, f"{kind} {span} not found within 1 s"

    # Questions: each answer attached to its question, with its transcript, cues and moments.
    assert [q["index"] for q in data["questions"]] == [0, 1, 2]
    for question, truth_question in zip(data["questions"], QUESTIONS):
        assert question["question"] == truth_question and question["transcript"]
    teamwork = [mo for mo in data["questions"][0]["moments"] if mo["kind"] == "competency"]
    assert teamwork, "no competency evidence in the answer about leading a team"
    for moment in data["moments"]:
        assert {"start", "end", "kind", "why"} <= set(moment) and moment["why"]

    # The report matches its shipped, versioned JSON Schema.
    assert_valid_report(data)
    assert data["consent"]["notice_version"] == "2025-01" and data["consent"]["vision_voice"] is True

    # The report through the CLI's JSON and the replay page.
    client = app.test_client()
    assert client.get(f"/recordings/{analysed.id}").status_code == 302  # signed out: to the sign-in page


def assert_valid_report(data: dict) -> None:
    import jsonschema

    schema = report_schema.load(data["schema_version"])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(data)]
    assert not errors, errors


def test_organisation_can_turn_analysis_off(app, db):
    worker_base.set_app(app)
    org = default_organisation()
    org.settings = {"analysis": {"ai": False}}
    org.save()
    candidate = m.Candidate.create(organisation=org, name="No analysis")
    recording = ingest_file(app.extensions["talentreel"], INTERVIEW / "interview.mp4", candidate=candidate, original_name="i.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    analyze_recording(recording.id)
    report = report_mod.latest(recording)
    assert report.version == 2  # a new analysis adds a version, never overwrites
    statuses = {s["name"]: s for s in report.data["analysis"]}
    assert all(s["state"] == "skipped" for s in statuses.values())
    assert "turned AI analysis off" in statuses["vision"]["reason"]
    assert report.data["parts"] == {} and report.data["analyzers"] == {}
    assert_valid_report(report.data)
