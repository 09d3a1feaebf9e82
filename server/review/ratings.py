"""Reviewers' 1-5 ratings as the talent pool reads them: the rated comments on a candidate's
recordings, which competency each is about, and their averages.

A comment's competency is free text. It is read as the tag it names (name, label or synonym,
followed through merges: the resolution a search uses), so "Negotiation", "客户谈判" and
"negotiation" count together and line up with the AI's competency scores of that tag. Text that
names no tag is kept as written (case-folded for grouping), so no rating is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import peewee as pw
from flask import url_for

from .. import models as m
from ..analysis.report import latest
from ..permissions import can
from ..pool import taxonomy

EXCERPT_CHARS = 140
"""Characters of a comment shown beside its rating; the replay has the whole of it."""


@dataclass(frozen=True)
class Competency:
    key: str  # the surviving tag's name, or the reviewer's text case-folded
    label: str  # what people read, in their language
    tag_id: int | None = None  # the tag the text names, if any
    is_competency_tag: bool = False  # a tag of kind competency: the AI scores it


class CompetencyNames:
    """Reads reviewers' competency texts as tags, each distinct text looked up once."""

    def __init__(self, organisation_id: int, locale: str | None):
        self.organisation_id, self.locale = organisation_id, locale
        self._seen: dict[str, Competency | None] = {}

    def __call__(self, text: str | None) -> Competency | None:
        text = (text or "").strip()
        if not text:
            return None
        if text not in self._seen:
            tag = taxonomy.find_tag(self.organisation_id, text)
            self._seen[text] = (Competency(tag.name, taxonomy.label(tag, self.locale), tag.id, tag.kind == "competency")
                                if tag is not None else Competency(text.casefold(), text))
        return self._seen[text]


@dataclass
class Rating:
    comment: m.ReviewComment
    competency: Competency | None
    reports: dict = field(default_factory=dict, repr=False)  # shared by a page's ratings: each report read once

    @property
    def url(self) -> str:
        """The replay at the moment or question the comment is about; only pages that link to it
        ask, so an export of hundreds of candidates reads no report."""
        return replay_url(self.comment, self.reports)

    @property
    def value(self) -> int:
        return self.comment.rating

    @property
    def reviewer(self) -> str:
        return self.comment.author_name

    @property
    def excerpt(self) -> str:
        body = " ".join(self.comment.body.split())
        return body if len(body) <= EXCERPT_CHARS else body[:EXCERPT_CHARS - 1].rstrip() + "…"


def rated_comments(condition) -> pw.ModelSelect:
    """Comments with a rating on recordings matching `condition`, with their recording, oldest first."""
    return (m.ReviewComment.select(m.ReviewComment, m.Recording).join(m.Recording)
            .where(m.ReviewComment.rating.is_null(False) & condition)
            .order_by(m.ReviewComment.created_at, m.ReviewComment.id))


def _second_of_question(recording: m.Recording, index: int, reports: dict) -> float | None:
    if recording.id not in reports:
        report = latest(recording)
        reports[recording.id] = {q.get("index"): q.get("start") for q in ((report.data or {}).get("questions") or [])} if report else {}
    return reports[recording.id].get(index)


def replay_url(comment: m.ReviewComment, reports: dict) -> str:
    """The replay at the comment's moment, else at the answer to its question, else from the start."""
    second = comment.start_seconds
    if second is None and comment.question_index is not None:
        second = _second_of_question(comment.recording, comment.question_index, reports)
    if second is None:
        return url_for("playback.replay", recording_id=comment.recording_id)
    return url_for("playback.replay", recording_id=comment.recording_id, t=f"{second:g}")


def visible(user, candidates: list[m.Candidate], locale: str | None) -> dict[int, list[Rating]]:
    """Each candidate's ratings the user may read: those on recordings whose report they may view
    (the rule the replay and the comments API follow), so an interviewer sees the ratings of the
    interviews they sat on and not the rest of the candidate's."""
    out: dict[int, list[Rating]] = {c.id: [] for c in candidates}
    if not candidates:
        return out
    names = CompetencyNames(user.organisation_id, locale)
    readable: dict[int, bool] = {}
    reports: dict[int, dict] = {}
    for comment in rated_comments(m.Recording.candidate.in_(list(out))):
        recording = comment.recording
        if recording.id not in readable:
            readable[recording.id] = can(user, "report.view", recording)
        if readable[recording.id]:
            out[recording.candidate_id].append(Rating(comment, names(comment.competency), reports))
    return out


def average(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def summary(ratings: list[Rating]) -> dict:
    """{"average", "count", "competencies": {key: {"label", "average", "count"}}}: overall over
    every rating, and per competency over the ratings that name one."""
    by_competency: dict[str, list[Rating]] = {}
    for rating in ratings:
        if rating.competency is not None:
            by_competency.setdefault(rating.competency.key, []).append(rating)
    return {
        "average": average([r.value for r in ratings]),
        "count": len(ratings),
        "competencies": {key: {"label": rows[0].competency.label, "average": average([r.value for r in rows]), "count": len(rows)}
                         for key, rows in by_competency.items()},
    }
