"""Every reason a migration gives, in one table.

A reject (`Reason`) means the row was not migrated; a warning (`Warn`) means it was, with something
lost or assumed that the report must say. The values are the exact strings reports carry (and
customers' expected results compare against), so change them only deliberately. Order matters:
the report lists rejects grouped by reason in this order, the most basic problem first.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # files
    FILE_UNREADABLE = "file unreadable"
    UNKNOWN_ENCODING = "unknown encoding (neither UTF-8 nor GBK)"
    BAD_ROW = "malformed row"
    MISSING_ID = "missing legacy id"
    CONFLICTING_DUPLICATE = "same id with different content"
    # media
    VIDEO_MISSING = "video file missing"
    VIDEO_UNREADABLE = "video unreadable"
    VIDEO_TOO_LARGE = "video too large"
    VIDEO_TOO_LONG = "video too long"
    VIDEO_CHECKSUM = "video checksum mismatch"
    NO_RECORDING = "no recording migrated"
    DOCUMENT_MISSING = "document file missing"
    REPORT_MISSING = "report file missing"
    REPORT_UNREADABLE = "report unreadable"
    # references
    UNKNOWN_CANDIDATE = "unknown candidate"
    CANDIDATE_NOT_MIGRATED = "candidate not migrated"
    UNKNOWN_USER = "unknown user"
    USER_NOT_MIGRATED = "user not migrated"
    UNKNOWN_DEPARTMENT = "unknown department"
    UNKNOWN_OPENING = "unknown opening"
    UNKNOWN_INTERVIEW = "interview not in export"
    INTERVIEW_NOT_MIGRATED = "interview not migrated"
    UNKNOWN_RECORDING = "recording not in export"
    RECORDING_NOT_MIGRATED = "recording not migrated"
    # values
    MISSING_NAME = "missing name"
    INVALID_USERNAME = "invalid username"
    UNKNOWN_ROLE = "unknown role"
    UNKNOWN_PERMISSION = "unknown permission"
    EMPTY = "empty content"
    ACCOUNT_DISABLED = "account disabled in the source"
    NOT_A_CANDIDATE = "not about a candidate"
    LOAD_FAILED = "could not be stored"


class Warn(StrEnum):
    BAD_DATE = "unreadable date"
    BAD_EMAIL = "invalid e-mail dropped"
    BAD_SCORE = "unreadable score"
    BAD_MOMENT = "moment out of range"
    UNKNOWN_INTERVIEWER = "unknown interviewer"
    UNKNOWN_AUTHOR = "unknown author"
    UNKNOWN_OPENING = "unknown opening"
    NO_DEPARTMENT = "department head without department"
    USER_EXISTS = "account existed; missing roles and departments added"
    DUPLICATE_ROW = "duplicate row ignored"
    EXTRA_RECORDINGS = "report kept on the first recording"
    GBK_TEXT = "text in GBK, converted to UTF-8"
    UNKNOWN_STATUS = "unknown status"


ORDER = {reason: index for index, reason in enumerate(Reason)}


def sort_key(reason: str) -> int:
    """Position of a reason in the table (unknown strings last)."""
    try:
        return ORDER[Reason(reason)]
    except ValueError:
        return len(ORDER)


MEDIA_REJECTIONS = {
    "too_large": Reason.VIDEO_TOO_LARGE,
    "too_long": Reason.VIDEO_TOO_LONG,
}
"""probe.MediaRejected.reason -> Reason; every other refusal (truncated, not media, empty, no
video) is VIDEO_UNREADABLE."""


def for_media_rejection(code: str) -> Reason:
    return MEDIA_REJECTIONS.get(code, Reason.VIDEO_UNREADABLE)


def media_detail(exc) -> str:
    """A probe refusal as plain English text for the report. Its message is a lazy translation,
    which inside a worker's app context (no request) cannot pick a locale by itself."""
    try:
        text = str(exc)
    except RuntimeError:
        from flask_babel import force_locale

        with force_locale("en"):
            text = str(exc)
    return f"{exc.reason}: {text}"
