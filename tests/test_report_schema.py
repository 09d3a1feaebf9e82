"""The report's JSON Schema ships in the package and refuses what a report must not be. Real
reports are validated against it in test_analysis_job.py and test_consent.py."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from talentreel.server.analysis import report as report_mod
from talentreel.server.analysis import report_schema
from talentreel.server.analysis.contract import AnalysisInput


class _Recording:
    id = 7


def sample_report() -> dict:
    inp = AnalysisInput(recording_id=7, audio_path=None, video_path=None, duration=30.0)
    inp.parts = {
        "stt": {"engine": "pocketsphinx", "language": "en", "text": "hello", "segments": [],
                "words": [{"word": "hello", "start": 9.0, "end": 9.4, "conf": 0.8}]},
        "questions": {"answers": [{"question_index": 0, "question": "Hi?", "start": 8.0, "end": 20.0, "text": "hello"}]},
        "voice": {"events": [{"kind": "hesitation", "start": 10.0, "end": 12.5, "why": "2.5 s of silence"}]},
    }
    statuses = {"voice": {"name": "voice", "version": "1", "part": "voice", "state": "ran", "seconds": 0.1},
                "vision": {"name": "vision", "version": "1", "part": "vision", "state": "skipped", "reason": "no consent"}}
    return report_mod.assemble(_Recording(), inp, statuses, consent=None)


def errors(data) -> list[str]:
    schema = report_schema.load(data.get("schema_version", report_mod.REPORT_SCHEMA_VERSION))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [e.message for e in validator.iter_errors(data)]


def test_schema_of_the_current_version_is_shipped_and_valid():
    assert report_schema.path().name == f"report-{report_mod.REPORT_SCHEMA_VERSION}.json"
    jsonschema.Draft202012Validator.check_schema(report_schema.load())
    with pytest.raises(LookupError, match="0.1"):
        report_schema.load("0.1")


def test_assembled_report_is_valid():
    data = sample_report()
    assert errors(data) == []
    assert data["moments"][0]["ref"] == "voice:0"


@pytest.mark.parametrize("damage", [
    lambda d: d["moments"][0].pop("why"),
    lambda d: next(s for s in d["analysis"] if s["state"] == "ran").update(state="done"),
    lambda d: next(s for s in d["analysis"] if s["state"] == "skipped").pop("reason"),  # a skipped analyzer says why
    lambda d: d.update(score=0.8),  # no overall score, ever
    lambda d: d["questions"][0].update(start=-1),
    lambda d: d.update(consent={"notice_version": "1", "ai": "yes", "vision_voice": False, "recorded_at": "2025-01-01T00:00:00Z"}),
])
def test_schema_refuses_a_damaged_report(damage):
    data = copy.deepcopy(sample_report())
    damage(data)
    assert errors(data)


def test_a_question_not_found_keeps_its_place_without_times():
    inp = AnalysisInput(recording_id=7, audio_path=None, video_path=None, duration=30.0)
    inp.parts = {"questions": {"answers": [
        {"question_index": 0, "question": "Hi?", "asked": None, "start": 1.0, "end": 9.0, "text": "hello"},
        {"question_index": 1, "question": "Why us?", "asked": None, "start": None, "end": None, "text": ""}]}}
    data = report_mod.assemble(_Recording(), inp, {}, consent=None)
    assert [(q["index"], q["start"]) for q in data["questions"]] == [(0, 1.0), (1, None)]
    assert errors(data) == []
