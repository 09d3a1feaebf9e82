"""Model rows as API JSON, each beside the JSON Schema the OpenAPI document publishes for it.

Keeping a serializer and its schema next to each other is what keeps them in step; the schemathesis
test checks every response against these schemas, and they forbid extra properties so a field
added here without its schema fails that test.
"""

from __future__ import annotations

import datetime as dt
import math

from .. import models as m
from .fields import MAX_ID


def iso(value: dt.datetime | None) -> str | None:
    """Models hold naive UTC datetimes; the API says so explicitly with a Z."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat() + "Z"


def _obj(properties: dict, description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NULLABLE_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}


def me(user: m.User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "roles": sorted(user.roles),
        "department_ids": sorted(user.department_ids),
        "locale": user.locale,
    }


ME_SCHEMA = _obj(
    {
        "id": ID,
        "username": STRING,
        "display_name": STRING,
        "email": NULLABLE_STRING,
        "roles": {"type": "array", "items": {"type": "string", "enum": list(m.ROLES)}},
        "department_ids": {"type": "array", "items": ID},
        "locale": NULLABLE_STRING,
    },
    "The user the API token belongs to.",
)


def department(dept: m.Department) -> dict:
    return {"id": dept.id, "name": dept.name, "code": dept.code}


DEPARTMENT_SCHEMA = _obj({"id": ID, "name": STRING, "code": NULLABLE_STRING}, "A department of the organisation.")


def candidate(cand: m.Candidate) -> dict:
    return {
        "id": cand.id,
        "name": cand.name,
        "email": cand.email,
        "phone": cand.phone,
        "in_talent_pool": cand.in_talent_pool,
        "created_at": iso(cand.created_at),
    }


CANDIDATE_SCHEMA = _obj(
    {
        "id": ID,
        "name": STRING,
        "email": NULLABLE_STRING,
        "phone": NULLABLE_STRING,
        "in_talent_pool": {"type": "boolean"},
        "created_at": DATETIME,
    },
    "A person who applies or is interviewed.",
)


def opening(op: m.Opening) -> dict:
    return {
        "id": op.id,
        "title": op.title,
        "department_id": op.department_id,
        "status": op.status,
        "created_at": iso(op.created_at),
        "closed_at": iso(op.closed_at),
    }


OPENING_SCHEMA = _obj(
    {
        "id": ID,
        "title": STRING,
        "department_id": ID,
        "status": {"type": "string", "enum": ["open", "closed"]},
        "created_at": DATETIME,
        "closed_at": NULLABLE_DATETIME,
    },
    "A job requisition owned by a department.",
)


def interviewer_ids_of(interviews: list[m.Interview]) -> dict[int, list[int]]:
    """Interviewer ids of many interviews in one query, for lists."""
    ids: dict[int, list[int]] = {iv.id: [] for iv in interviews}
    if ids:
        rows = (
            m.InterviewInterviewer.select(m.InterviewInterviewer.interview, m.InterviewInterviewer.user)
            .where(m.InterviewInterviewer.interview.in_(list(ids)))
            .order_by(m.InterviewInterviewer.user)
        )
        for row in rows:
            ids[row.interview_id].append(row.user_id)
    return ids


def interview(iv: m.Interview, interviewer_ids: list[int] | None = None) -> dict:
    if interviewer_ids is None:
        interviewer_ids = interviewer_ids_of([iv])[iv.id]
    return {
        "id": iv.id,
        "candidate_id": iv.candidate_id,
        "opening_id": iv.opening_id,
        "scheduled_at": iso(iv.scheduled_at),
        "questions": list(iv.questions or []),
        "status": iv.status,
        "interviewer_ids": interviewer_ids,
        "consent": _consent(iv),
        "created_at": iso(iv.created_at),
    }


def _consent(iv: m.Interview) -> dict | None:
    from ..analysis.consent import latest_consent

    row = latest_consent(iv)
    if row is None:
        return None
    return {"notice_version": row.notice_version, "ai": row.ai, "vision_voice": row.vision_voice,
            "recorded_at": iso(row.recorded_at)}


def interviews(ivs: list[m.Interview]) -> list[dict]:
    ids = interviewer_ids_of(ivs)
    return [interview(iv, ids[iv.id]) for iv in ivs]


INTERVIEW_SCHEMA = _obj(
    {
        "id": ID,
        "candidate_id": ID,
        "opening_id": NULLABLE_ID,
        "scheduled_at": NULLABLE_DATETIME,
        "questions": {"type": "array", "items": STRING},
        "status": STRING,
        "interviewer_ids": {"type": "array", "items": ID},
        "consent": {"oneOf": [{"type": "null"}, _obj({"notice_version": STRING, "ai": {"type": "boolean"},
                                                      "vision_voice": {"type": "boolean"}, "recorded_at": DATETIME},
                                                     "The candidate's latest consent record for this interview.")]},
        "created_at": DATETIME,
    },
    "An interview of a candidate, optionally for an opening.",
)


def recording(rec: m.Recording) -> dict:
    duration = rec.duration_seconds
    return {
        "id": rec.id,
        "candidate_id": rec.candidate_id,
        "interview_id": rec.interview_id,
        "state": rec.state,
        "error": rec.error,
        "original_name": rec.original_name,
        "size_bytes": rec.size_bytes,
        # NaN or infinity from a broken probe is not JSON.
        "duration_seconds": duration if duration is not None and math.isfinite(duration) else None,
        "created_at": iso(rec.created_at),
    }


RECORDING_SCHEMA = _obj(
    {
        "id": ID,
        "candidate_id": ID,
        "interview_id": NULLABLE_ID,
        "state": {"type": "string", "enum": list(m.RECORDING_STATES)},
        "error": NULLABLE_STRING,
        "original_name": NULLABLE_STRING,
        "size_bytes": {"type": "integer", "minimum": 0},
        "duration_seconds": {"type": ["number", "null"], "minimum": 0},
        "created_at": DATETIME,
    },
    "A recorded interview video; read-only through the API.",
)


NULLABLE_NUMBER = {"type": ["number", "null"]}

REVIEW_COMMENT_SCHEMA = _obj(
    {
        "id": ID,
        "recording_id": ID,
        "author_id": NULLABLE_ID,
        "author_name": STRING,
        "body": STRING,
        "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "question_index": {"type": ["integer", "null"], "minimum": 0},
        "start_seconds": NULLABLE_NUMBER,
        "end_seconds": NULLABLE_NUMBER,
        "competency": NULLABLE_STRING,
        "created_at": DATETIME,
    },
    "A reviewer's comment on a recording, optionally rated, about a question or a moment.",
)

CUE_FEEDBACK_SCHEMA = _obj(
    {
        "id": ID,
        "recording_id": ID,
        "report_version": {"type": "integer", "minimum": 1},
        "kind": STRING,
        "source": NULLABLE_STRING,
        "start_seconds": {"type": "number"},
        "end_seconds": {"type": "number"},
        "measure": NULLABLE_NUMBER,
        "correct": {"type": "boolean"},
    },
    "The caller's verdict on one AI cue (marking the same cue again replaces it).",
)
