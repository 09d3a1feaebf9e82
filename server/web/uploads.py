"""The page HR uploads a recording from; the bytes go to the tus endpoint (talentreel.server.ingest)."""

from flask import g, render_template, request

from .. import models as m
from ..errors import NotFound
from ..permissions import can, login_required
from . import web_bp
from .candidates import visible_candidate


@web_bp.get("/candidates/<int:candidate_id>/upload")
@login_required
def recording_upload(candidate_id: int):
    candidate = visible_candidate(candidate_id)
    if not can(g.user, "recording.create", candidate):
        raise NotFound(f"candidate {candidate_id}")
    interviews = [i for i in candidate.interviews.order_by(m.Interview.scheduled_at.desc(nulls="LAST")) if can(g.user, "interview.view", i)]
    chosen = request.args.get("interview", type=int)
    return render_template("candidates/upload.html", candidate=candidate, interviews=interviews, chosen=chosen)
