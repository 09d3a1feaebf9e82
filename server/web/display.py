"""How stored values read on a page: translated names of status codes, durations and sizes.

Status codes are stored in English (they are data, shared with the API and migrators); the pages
show them in the user's language. A code no label knows (say, from a migrated system) is shown as
stored rather than hidden.
"""

from __future__ import annotations

from flask_babel import format_decimal

from ..i18n import lazy_gettext
from . import web_bp

STATUS_LABELS = {
    "opening": {
        "open": lazy_gettext("Open"),
        "closed": lazy_gettext("Closed"),
    },
    "interview": {
        "scheduled": lazy_gettext("Scheduled"),
        "completed": lazy_gettext("Completed"),
        "cancelled": lazy_gettext("Cancelled"),
    },
    "application": {
        "applied": lazy_gettext("Applied"),
        "screening": lazy_gettext("Screening"),
        "interviewing": lazy_gettext("Interviewing"),
        "offered": lazy_gettext("Offered"),
        "hired": lazy_gettext("Hired"),
        "rejected": lazy_gettext("Rejected"),
        "withdrawn": lazy_gettext("Withdrawn"),
    },
    "moment": {
        "competency": lazy_gettext("Competency evidence"),
        "hesitation": lazy_gettext("Hesitation"),
        "before_answer": lazy_gettext("Pause before answering"),
        "face_absent": lazy_gettext("Face not in view"),
        "attention_away": lazy_gettext("Looking away"),
        "movement": lazy_gettext("Movement"),
        "filler": lazy_gettext("Filler word"),
        "smile": lazy_gettext("Smile"),
        "speaking_rate": lazy_gettext("Speaking rate"),
        "pitch_variation": lazy_gettext("Pitch variation"),
        "loudness_variation": lazy_gettext("Loudness variation"),
    },
    "analysis": {
        "ran": lazy_gettext("ran"),
        "skipped": lazy_gettext("did not run"),
        "failed": lazy_gettext("failed"),
    },
    "recording": {
        "uploaded": lazy_gettext("Uploaded"),
        "processing": lazy_gettext("Processing"),
        "ready": lazy_gettext("Ready"),
        "failed": lazy_gettext("Failed"),
    },
}


@web_bp.app_template_global()
def status_label(kind: str, code: str | None) -> str:
    if code is None:
        return ""
    return str(STATUS_LABELS.get(kind, {}).get(code, code))


@web_bp.app_template_global()
def moment_label(kind: str) -> str:
    return status_label("moment", kind)


@web_bp.app_template_global()
def analysis_state_label(state: str) -> str:
    return status_label("analysis", state)


@web_bp.app_template_filter()
def clock(seconds: float | None) -> str:
    """A duration as h:mm:ss or m:ss, the way a player shows it."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@web_bp.app_template_filter()
def megabytes(size_bytes: int | None) -> str:
    if not size_bytes:
        return ""
    return format_decimal(size_bytes / 1_000_000, format="#,##0.0") + " MB"
