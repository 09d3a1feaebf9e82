"""Reviewers' forms on the replay page: a comment (with an optional rating) and a verdict on a cue.

Both post back to the page; the API (server/api/reviews.py) offers the same through the same
review modules, so the checks and the audit trail are identical.
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from .. import models as m
from ..analysis.report import latest
from ..errors import PermissionDenied, ValidationError
from ..i18n import _
from ..permissions import can, login_required
from ..review import comments, feedback
from .views import _visible_recording, playback_bp, render_replay


def _about(form) -> dict:
    """The form's "about" choice: "" (the whole recording), "q<index>" or "moment"."""
    about = form.get("about", "")
    values: dict = {}
    if about.startswith("q"):
        values["question_index"] = about[1:]
    elif about == "moment":
        values["start_seconds"] = form.get("start_seconds", "")
        values["end_seconds"] = form.get("end_seconds", "")
    return values


@playback_bp.post("/recordings/<int:recording_id>/comments")
@login_required
def add_comment(recording_id: int):
    recording = _visible_recording(recording_id, "report.view")
    if not can(g.user, "report.comment", recording):
        raise PermissionDenied("report.comment")
    values = {"body": request.form.get("body", ""), "rating": request.form.get("rating", ""), **_about(request.form)}
    try:
        comments.add(recording, latest(recording), g.user, values)
    except ValidationError as exc:
        return render_replay(recording, comment_form=dict(request.form), comment_error=str(exc), status=400)
    flash(_("Your comment was added."))
    return redirect(url_for("playback.replay", recording_id=recording.id) + "#comments")


@playback_bp.post("/recordings/<int:recording_id>/cues")
@login_required
def judge_cue(recording_id: int):
    recording = _visible_recording(recording_id, "report.view")
    if not can(g.user, "report.feedback", recording):
        raise PermissionDenied("report.feedback")
    report = m.Report.get_or_none((m.Report.recording == recording) & (m.Report.version == request.form.get("version", type=int)))
    verdict = {"right": True, "wrong": False}.get(request.form.get("verdict"))
    try:
        if report is None:
            raise ValidationError(_("This report version no longer exists; reload the page."), field="version")
        feedback.mark(recording, report, g.user, request.form.get("cue"), verdict)
    except ValidationError as exc:
        flash(str(exc))
    else:
        flash(_("Thank you: your verdict on the cue was recorded."))
    return redirect(url_for("playback.replay", recording_id=recording.id) + "#cues")
