"""Reviewers' comments and ratings on a recording, and verdicts on its AI cues.

Reading comments needs `report.view` on the recording, writing them `report.comment`, judging a
cue `report.feedback`: whoever may read a candidate's report sees every reviewer's comments.
"""

from __future__ import annotations

from flask import g, jsonify

from .. import audit
from .. import models as m
from ..analysis.report import latest
from ..i18n import _
from ..review import comments, feedback
from . import api_bp
from .access import require, visible_or_404
from .fields import Boolean, Integer, Seconds, Text, invalid, parse_body
from .pagination import envelope, page_params

COMMENT_FIELDS = {
    "body": Text("The comment.", max_length=comments.BODY_MAX, multiline=True, required=True),
    "rating": Integer("A rating from 1 to 5, or null for none.", minimum=1, maximum=5, nullable=True),
    "question_index": Integer("The question of the latest report the comment is about (0 = first), or null.",
                              minimum=0, maximum=1000, nullable=True),
    "start_seconds": Seconds("Start of the moment the comment is about, or null.", nullable=True),
    "end_seconds": Seconds("End of that moment (default: its start), or null.", nullable=True),
    "competency": Text("The competency the rating is about, if any.", max_length=100, nullable=True),
}

FEEDBACK_FIELDS = {
    "cue": Text("The cue's `ref` in the report, e.g. `voice:3`.", max_length=100, required=True),
    "correct": Boolean("true: the cue is right; false: it is wrong.", required=True),
    "report_version": Integer("The report version the cue is from (default: the latest).", minimum=1, maximum=100000),
}


def _recording(recording_id: int | None) -> m.Recording:
    recording = visible_or_404(m.Recording, recording_id, "recording")
    require("report.view", recording)
    return recording


@api_bp.get("/recordings/<api_id:recording_id>/comments")
def list_comments(recording_id: int | None):
    recording = _recording(recording_id)
    page, per_page = page_params()
    rows = comments.of_recording(recording)
    audit.record("review.comments_view", recording, details={"count": len(rows)})
    start = (page - 1) * per_page
    return jsonify(envelope([comments.as_dict(c) for c in rows[start:start + per_page]], page, per_page, len(rows)))


@api_bp.post("/recordings/<api_id:recording_id>/comments")
def add_comment(recording_id: int | None):
    recording = _recording(recording_id)
    require("report.comment", recording)
    values = parse_body(COMMENT_FIELDS, creating=True)
    comment = comments.add(recording, latest(recording), g.user, values)
    response = jsonify(comments.as_dict(comment))
    response.status_code = 201
    return response


@api_bp.post("/recordings/<api_id:recording_id>/cue-feedback")
def mark_cue(recording_id: int | None):
    recording = _recording(recording_id)
    require("report.feedback", recording)
    values = parse_body(FEEDBACK_FIELDS, creating=True)
    query = m.Report.select().where(m.Report.recording == recording)
    if values.get("report_version") is not None:
        query = query.where(m.Report.version == values["report_version"])
    report = query.order_by(m.Report.version.desc()).first()
    if report is None:
        if values.get("report_version") is not None:
            raise invalid("report_version", _("this recording has no report version %(version)d", version=values["report_version"]))
        raise invalid("cue", _("this recording has no report yet, so no cues to judge"))
    return jsonify(feedback.as_dict(feedback.mark(recording, report, g.user, values["cue"], values["correct"])))

