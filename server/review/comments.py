"""Reviewers' comments with an optional 1-5 rating, on a question of the report or a moment.

Every check names the field at fault; nothing is stored unless every check passed. Who may read
and write is the permission hook's decision (`report.view` to read, `report.comment` to write),
asked by the caller; this module only validates, stores, lists and audits.
"""

from __future__ import annotations

import math
from typing import Any

from .. import audit
from .. import models as m
from ..errors import ValidationError
from ..i18n import _

BODY_MAX = 5000
RATINGS = range(1, 6)


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", field=field)


def _number(field: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _fail(field, _("expected a number of seconds"))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _fail(field, _("expected a number of seconds")) from None
    if not math.isfinite(number):
        raise _fail(field, _("expected a number of seconds"))
    return number


def _integer(field: str, value: Any, message: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise _fail(field, message)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _fail(field, message) from None


def question_indexes(report: m.Report | None) -> set[int]:
    if report is None:
        return set()
    return {q.get("index") for q in (report.data or {}).get("questions") or [] if isinstance(q.get("index"), int)}


def validate(recording: m.Recording, report: m.Report | None, values: dict) -> dict:
    """Clean the posted values ({body, rating, question_index, start_seconds, end_seconds,
    competency}); raise ValidationError naming the first field at fault."""
    body = values.get("body")
    if not isinstance(body, str) or not body.strip():
        raise _fail("body", _("write a comment; it must not be empty"))
    body = body.strip()
    if len(body) > BODY_MAX:
        raise _fail("body", _("at most %(count)d characters", count=BODY_MAX))

    rating = _integer("rating", values.get("rating"), _("a rating is a whole number from 1 to 5"))
    if rating is not None and rating not in RATINGS:
        raise _fail("rating", _("a rating is a whole number from 1 to 5"))

    question = _integer("question_index", values.get("question_index"), _("expected the number of a question of the report"))
    if question is not None and question not in question_indexes(report):
        raise _fail("question_index", _("the report of this recording has no question %(number)d", number=question + 1))

    start, end = _number("start_seconds", values.get("start_seconds")), _number("end_seconds", values.get("end_seconds"))
    duration = recording.duration_seconds or 0.0
    if end is not None and start is None:
        raise _fail("start_seconds", _("a moment needs its start when it has an end"))
    if start is not None and not 0 <= start <= duration:
        raise _fail("start_seconds", _("the moment must lie within the recording (0 to %(seconds).1f seconds)", seconds=duration))
    if end is not None and not start <= end <= duration:
        raise _fail("end_seconds", _("the moment must end after it starts and within the recording (at most %(seconds).1f seconds)",
                                     seconds=duration))

    competency = values.get("competency")
    if competency is not None and (not isinstance(competency, str) or not competency.strip() or len(competency) > 100):
        raise _fail("competency", _("name the competency in at most 100 characters, or leave it out"))
    return {"body": body, "rating": rating, "question_index": question, "start_seconds": start,
            "end_seconds": end if end is not None else start, "competency": competency.strip() if competency else None}


def add(recording: m.Recording, report: m.Report | None, author: m.User, values: dict) -> m.ReviewComment:
    clean = validate(recording, report, values)
    comment = m.ReviewComment.create(recording=recording, author=author, author_name=author.display_name or author.username,
                                     **clean)
    audit.record("review.comment", recording, actor=author,
                 details={"comment": comment.id, "rating": comment.rating, "question_index": comment.question_index})
    return comment


def of_recording(recording: m.Recording) -> list[m.ReviewComment]:
    """Every comment on the recording, oldest first (a conversation reads top down)."""
    return list(m.ReviewComment.select().where(m.ReviewComment.recording == recording)
                .order_by(m.ReviewComment.created_at, m.ReviewComment.id))


def as_dict(comment: m.ReviewComment) -> dict:
    return {
        "id": comment.id,
        "recording_id": comment.recording_id,
        "author_id": comment.author_id,
        "author_name": comment.author_name,
        "body": comment.body,
        "rating": comment.rating,
        "question_index": comment.question_index,
        "start_seconds": comment.start_seconds,
        "end_seconds": comment.end_seconds,
        "competency": comment.competency,
        "created_at": comment.created_at.replace(tzinfo=None).isoformat() + "Z",
    }
