"""Reviewers' verdicts on AI cues: this cue is right, or it is wrong.

A cue is named by its `ref` in the report ("<part>:<index>" into that analyzer's events), so any
cue can be judged, not only the key moments on the timeline. The verdict copies what calibration
needs (kind, times, the measure a threshold compares), so it survives later report versions.
"""

from __future__ import annotations

from typing import Any

from .. import audit
from .. import models as m
from ..errors import ValidationError
from ..i18n import _


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", field=field)


def measure_of(event: dict) -> float:
    """What a duration threshold is compared with: the cue's length in seconds."""
    return round(float(event.get("end", event["start"])) - float(event["start"]), 3)


def find_cue(report: m.Report, ref: Any) -> dict:
    """The event `ref` names in this report, or ValidationError naming `cue`."""
    if not isinstance(ref, str) or ":" not in ref:
        raise _fail("cue", _("name the cue as part:index, as the report's cues do (e.g. voice:3)"))
    part, _sep, index = ref.rpartition(":")
    events = ((report.data or {}).get("parts") or {}).get(part, {}).get("events") if part else None
    if not index.isdigit() or not isinstance(events, list) or int(index) >= len(events) or "start" not in events[int(index)]:
        raise _fail("cue", _("report version %(version)d has no cue %(cue)s", version=report.version, cue=ref[:40]))
    return {**events[int(index)], "source": part}


def mark(recording: m.Recording, report: m.Report, reviewer: m.User, ref: Any, correct: Any) -> m.CueFeedback:
    """Record (or replace) the reviewer's verdict on one cue of the report."""
    if not isinstance(correct, bool):
        raise _fail("correct", _("expected true (the cue is right) or false (it is wrong)"))
    event = find_cue(report, ref)
    values = {
        "organisation": recording.candidate.organisation_id, "report_version": report.version, "kind": event.get("kind", "cue"),
        "source": event["source"], "end_seconds": float(event.get("end", event["start"])), "measure": measure_of(event),
        "correct": correct, "created_at": m.utcnow(),
    }
    key = ((m.CueFeedback.recording == recording) & (m.CueFeedback.reviewer == reviewer)
           & (m.CueFeedback.kind == values["kind"]) & (m.CueFeedback.start_seconds == float(event["start"])))
    with m.CueFeedback._meta.database.atomic():
        row = m.CueFeedback.get_or_none(key)
        if row is None:
            row = m.CueFeedback.create(recording=recording, reviewer=reviewer, start_seconds=float(event["start"]), **values)
        else:
            m.CueFeedback.update(**values).where(m.CueFeedback.id == row.id).execute()
            row = m.CueFeedback.get_by_id(row.id)
    audit.record("review.cue_feedback", recording, actor=reviewer,
                 details={"cue": ref, "kind": row.kind, "correct": correct, "report_version": report.version})
    return row


def verdicts_by_reviewer(recording: m.Recording, reviewer: m.User) -> dict[tuple[str, float], bool]:
    """{(kind, start): correct} of one reviewer, for showing their marks on the page."""
    rows = m.CueFeedback.select().where((m.CueFeedback.recording == recording) & (m.CueFeedback.reviewer == reviewer))
    return {(r.kind, round(r.start_seconds, 3)): r.correct for r in rows}


def as_dict(row: m.CueFeedback) -> dict:
    return {"id": row.id, "recording_id": row.recording_id, "report_version": row.report_version, "kind": row.kind,
            "source": row.source, "start_seconds": row.start_seconds, "end_seconds": row.end_seconds,
            "measure": row.measure, "correct": row.correct}
