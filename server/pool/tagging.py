"""A finished report into the talent pool: candidate tags with evidence moments from every tagger
plugin, and the transcript passages of the full-text index.

Runs in the `analysis` queue after each analysis (workers/pool.py). A new report of a recording
replaces what taggers drew from that recording before, and only that: manual tags, migrated tags
and tags from the candidate's other recordings stay. One tagger failing is recorded and the others
still run. Only the candidate's answers are indexed when the questions were found, so a question
the interviewer asked ("describe a negotiation") never makes every candidate a hit.
"""

from __future__ import annotations

import logging
import traceback

from .. import models as m
from ..analysis.report import latest
from ..analysis.runner import resolve
from ..analysis.text.tokens import join
from ..plugins import merged_by_name
from . import segment, taxonomy

log = logging.getLogger("talentreel.pool")

PASSAGE_PAUSE = 0.8
"""Seconds of silence that end a passage."""

PASSAGE_MAX_SECONDS = 12.0
"""A passage is cut after this long even without a pause: a hit should point at a short moment."""


def taggers(app) -> list[dict]:
    return list(merged_by_name(app.extensions["talentreel"].plugins, "talentreel_taggers").values())


def competency_taxonomy(settings):
    from ...plugins.analyzer_language import DEFAULT_TAXONOMY
    from ..analysis.text.taxonomy import load_current

    return load_current(settings.get("taxonomy_path") or DEFAULT_TAXONOMY)


def tag_recording(app, recording: m.Recording) -> dict:
    report = latest(recording)
    if report is None:
        return {"skipped": "the recording has no report yet"}
    state = app.extensions["talentreel"]
    descriptions = taggers(app)
    competencies = competency_taxonomy(state.settings)
    outputs, statuses = {}, {}
    for description in descriptions:  # outside the transaction: taggers only read the report
        try:
            outputs[description["name"]] = resolve(description["run"])(report.data, competencies) or []
            statuses[description["name"]] = "ran"
        except Exception as exc:  # one tagger's crash is recorded, the others go on
            log.warning("tagger %s failed on recording %s: %s", description["name"], recording.id, exc)
            statuses[description["name"]] = f"failed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"[:2000]
    passages = transcript_passages(report.data)
    candidate = recording.candidate
    tagged = 0
    with m.CandidateTag._meta.database.atomic():
        m.CandidateTag.delete().where((m.CandidateTag.recording == recording) & m.CandidateTag.source.in_(list(outputs))).execute()
        for name, items in outputs.items():
            for item in items:
                tag = taxonomy.ensure_tag(candidate.organisation_id, item["tag"], item.get("kind", "competency"), item.get("labels"))
                row = m.CandidateTag.create(candidate=candidate, tag=tag, score=item.get("score"), source=name, recording=recording)
                # A moment without a time cannot be replayed: left out (and logged) rather than
                # failing the whole recording's tags, which one tagger's slip would otherwise do.
                given = item.get("evidence") or []
                moments = [e for e in given if isinstance(e.get("start"), (int, float))]
                if len(moments) < len(given):
                    log.warning("tagger %s gave evidence without a start for tag %s on recording %s; left out",
                                name, item["tag"], recording.id)
                evidence = [{"candidate_tag": row.id, "recording": recording.id, "start_seconds": float(e["start"]),
                             "end_seconds": float(e.get("end") if e.get("end") is not None else e["start"]),
                             "note": e.get("why")} for e in moments]
                if evidence:
                    m.TagEvidence.insert_many(evidence).execute()
                tagged += 1
        m.TranscriptSegment.delete().where(m.TranscriptSegment.recording == recording).execute()
        rows = [{"recording": recording.id, "candidate": candidate.id, "start_seconds": p["start"], "end_seconds": p["end"],
                 "text": p["text"], "terms": segment.index_terms(p["text"])} for p in passages]
        for start in range(0, len(rows), 500):
            m.TranscriptSegment.insert_many(rows[start:start + 500]).execute()
    return {"report_version": report.version, "tags": tagged, "passages": len(passages), "taggers": statuses}


def transcript_passages(data: dict) -> list[dict]:
    """Short timed passages of what the candidate said (all of the transcript when no question
    was found), cut at pauses and at PASSAGE_MAX_SECONDS."""
    questions = data.get("questions") or []
    if questions:
        stretches = [q.get("words") or [] for q in questions]
    else:
        stretches = [(data.get("transcript") or {}).get("words") or []]
    passages = []
    for words in stretches:
        current: list[dict] = []
        for word in words:
            if current and (float(word["start"]) - float(current[-1]["end"]) > PASSAGE_PAUSE
                            or float(word["end"]) - float(current[0]["start"]) > PASSAGE_MAX_SECONDS):
                passages.append(_passage(current))
                current = []
            current.append(word)
        if current:
            passages.append(_passage(current))
    return [p for p in passages if p["text"]]


def _passage(words: list[dict]) -> dict:
    return {"start": round(float(words[0]["start"]), 3), "end": round(float(words[-1]["end"]), 3),
            "text": join(str(w.get("word", "")) for w in words)}


def add_manual(user: m.User, candidate: m.Candidate, name: str, score: float | None) -> m.CandidateTag:
    """HR tags a candidate by hand: an existing tag (any of its names) or a new `manual` one."""
    from .. import audit
    from ..errors import ValidationError
    from ..i18n import _

    name = (name or "").strip()
    if not name or len(name) > 100 or any(c in name for c in '"():'):
        raise ValidationError(_("A tag name is 1 to 100 characters, without quotes, parentheses or colons."), field="tag")
    if score is not None and not 0 <= score <= 1:
        raise ValidationError(_("A score is a number from 0 to 1."), field="score")
    with m.CandidateTag._meta.database.atomic():
        tag = taxonomy.ensure_tag(candidate.organisation_id, name, "manual")
        row = m.CandidateTag.create(candidate=candidate, tag=tag, score=score, source="manual", created_by=user)
        audit.record("candidate.tag", candidate, actor=user, details={"tag": tag.id})
    return row
