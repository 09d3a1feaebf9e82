"""Shared by the talent pool tests: candidates with a real report of the fixture transcripts,
made by the real questions and language analyzers (speech-to-text replaced by the transcript the
fixture ships), then tagged and indexed by the real taggers."""

from __future__ import annotations

from talentreel.plugins import analyzer_language, analyzer_questions
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis import report as report_mod
from talentreel.server.analysis.contract import AnalysisInput
from talentreel.server.pool import tagging

from test_analyzer_questions import TRUTH, ZH, en_stt, questions_of, zh_stt


_PARTS: dict[str, dict] = {}


def analysed_candidate(app, name: str, language: str = "en", opening=None) -> m.Recording:
    settings = app.extensions["talentreel"].settings
    stt, segments = (en_stt(), TRUTH["segments"]) if language == "en" else (zh_stt(), ZH["segments"])
    questions = questions_of(segments)
    org = default_organisation()
    candidate = m.Candidate.create(organisation=org, name=name, in_talent_pool=True)
    interview = m.Interview.create(candidate=candidate, opening=opening, questions=questions)
    if opening is not None:
        m.Application.create(candidate=candidate, opening=opening)
    recording = m.Recording.create(candidate=candidate, interview=interview, state="ready", duration_seconds=71.0)
    inp = AnalysisInput(recording_id=recording.id, audio_path=None, video_path=None, duration=71.0, language=language,
                        questions=questions, settings=settings, parts={"stt": stt})
    if language not in _PARTS:  # the analyzers' results depend only on the transcript: made once per process
        _PARTS[language] = {"questions": analyzer_questions.run(inp)}
        inp.parts.update(_PARTS[language])
        _PARTS[language]["language"] = analyzer_language.run(inp)
    inp.parts.update(_PARTS[language])
    statuses = {n: {"name": n, "version": "1", "state": "ran"} for n in ("stt", "questions", "language")}
    report_mod.save(recording, report_mod.assemble(recording, inp, statuses))
    with app.app_context():
        tagging.tag_recording(app, recording)
    return recording
