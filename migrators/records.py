"""Canonical records: what a migrator's reader yields, whatever the legacy system looked like.

Every record carries the `legacy_id` the source system knew it by (unique per record type within
one source) and `where` it was read from ("candidates.csv:3"), for the report. References
between records are legacy ids too (`Interview.candidate = "C1001"`); the framework resolves
them, so a reader never looks anything up in TalentReel's database.

Times are naive `datetime`s in the source's local time (the reader's `timezone`); the framework
converts them to UTC. Text is `str`, already decoded (see inputs.read_text).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Department:
    legacy_id: str
    name: str
    code: str | None = None
    where: str = ""


@dataclass(frozen=True)
class User:
    """An account of the legacy system. `roles` are the legacy role names; the reader's `role_map`
    turns them into TalentReel roles. `departments` are Department legacy ids. Users arrive without
    a password: they set one through the first-sign-in / reset flow."""

    legacy_id: str
    username: str
    display_name: str = ""
    email: str | None = None
    roles: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class Candidate:
    legacy_id: str
    name: str
    phone: str | None = None
    email: str | None = None
    created_at: dt.datetime | None = None
    duplicate_of: tuple[str, ...] = ()  # legacy ids the source itself marks as the same person (merged like a dedup match)
    where: str = ""


@dataclass(frozen=True)
class Opening:
    legacy_id: str
    title: str
    department: str  # Department legacy id
    status: str = "open"
    where: str = ""


@dataclass(frozen=True)
class Application:
    legacy_id: str
    candidate: str
    opening: str
    created_at: dt.datetime | None = None
    status: str | None = None  # a TalentReel application status (display.STATUS_LABELS); None: "applied"
    where: str = ""


@dataclass(frozen=True)
class Grant:
    """Explicit access of a user to a candidate, beyond the user's role. `permission` is "view" or
    "edit" (a reader maps its own vocabulary)."""

    legacy_id: str
    user: str
    candidate: str
    permission: str = "view"
    where: str = ""


@dataclass(frozen=True)
class Interview:
    legacy_id: str
    candidate: str
    opening: str | None = None
    scheduled_at: dt.datetime | None = None
    interviewers: tuple[str, ...] = ()  # User legacy ids
    status: str = "completed"
    where: str = ""


@dataclass(frozen=True)
class Recording:
    """A video of an interview (or of a candidate, with no interview). `path` is the local file;
    a reader of a remote source gives `fetch` instead, called when the file is needed and returning
    a local path (the framework's work directory is `reader.workdir`). `sha256`, when the source
    knows it, is checked. `path=None` and no `fetch`: the source names a file it does not have."""

    legacy_id: str
    interview: str | None = None
    candidate: str | None = None
    path: Path | None = None
    original_name: str | None = None
    sha256: str | None = None
    fetch: Callable[[], Path] | None = field(default=None, compare=False, repr=False)
    where: str = ""


@dataclass(frozen=True)
class LabelScore:
    name: str  # the legacy label
    score: float | None = None


@dataclass(frozen=True)
class Moment:
    start: float
    end: float
    label: str | None = None  # the legacy label it is evidence of
    note: str | None = None


@dataclass(frozen=True)
class Report:
    """An old AI (or human) assessment of an interview's recording. Labels are legacy names; the
    label map decides what they become. `scale` is the legacy score range."""

    legacy_id: str
    interview: str | None = None
    recording: str | None = None  # when the source ties it to one recording rather than the interview
    labels: tuple[LabelScore, ...] = ()
    moments: tuple[Moment, ...] = ()
    comment: str | None = None
    legacy_version: str | None = None
    scale: tuple[float, float] = (0.0, 5.0)
    where: str = ""


@dataclass(frozen=True)
class Note:
    legacy_id: str
    candidate: str
    text: str
    interview: str | None = None
    author: str | None = None  # User legacy id
    created_at: dt.datetime | None = None
    where: str = ""


@dataclass(frozen=True)
class Document:
    legacy_id: str
    candidate: str
    path: Path | None = None
    name: str | None = None
    content_type: str | None = None
    fetch: Callable[[], Path] | None = field(default=None, compare=False, repr=False)
    where: str = ""


@dataclass(frozen=True)
class Skill:
    """A skill the source lists for a candidate: becomes the candidate's tag of kind "skill"."""

    legacy_id: str
    candidate: str
    name: str
    where: str = ""


@dataclass(frozen=True)
class Rejected:
    """A row the reader could not turn into a record (no id, unreadable file): reported as is."""

    kind: str  # record kind it would have been ("candidate"), or "file"
    legacy_id: str | None
    reason: str  # a value of reasons.Reason
    detail: str = ""
    where: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the report should say that is not a reject: a file's detected encoding, a value
    kept but not understood (an unreadable date)."""

    code: str  # "encoding", or a reasons.Warn value
    detail: str = ""
    where: str = ""
    kind: str | None = None
    legacy_id: str | None = None
    field: str | None = None


RECORD_TYPES: dict[str, type] = {
    "department": Department,
    "user": User,
    "candidate": Candidate,
    "opening": Opening,
    "application": Application,
    "grant": Grant,
    "interview": Interview,
    "recording": Recording,
    "report": Report,
    "note": Note,
    "document": Document,
    "skill": Skill,
}
"""Record kind -> class, in the order the framework loads them (a record only refers to kinds
before it, except a recording or report to its interview, which are loaded with it)."""

KIND_OF = {cls: kind for kind, cls in RECORD_TYPES.items()}

ENTITY_NAMES = {kind: kind + "s" for kind in RECORD_TYPES}
"""Report section of each kind ("candidates")."""


def kind_of(record) -> str | None:
    return KIND_OF.get(type(record))


def as_dict(record) -> dict[str, Any]:
    """A record as JSON-ready data (for the journal): no callables, paths and times as text."""

    def value(v):
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat()
        if isinstance(v, Path):
            return str(v)
        if dataclasses.is_dataclass(v):
            return {f.name: value(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        return v

    return {f.name: value(getattr(record, f.name)) for f in dataclasses.fields(record)
            if f.name not in ("fetch", "where")}
