"""HR's side of candidate privacy: portal invitations, what is shared with the candidate
(replays, feedback), legal hold, erasure requests and erasure itself."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from .. import audit
from .. import models as m
from ..erasure import erase_candidate
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..permissions import can, login_required, require
from ..portal import invites
from . import web_bp
from .candidates import visible_candidate
from .submissions import clean_text

FEEDBACK_MAX = 5000


def _back(candidate: m.Candidate):
    return redirect(url_for("web.candidate_detail", candidate_id=candidate.id) + "#privacy")


@web_bp.post("/candidates/<int:candidate_id>/portal-invite")
@login_required
def portal_invite(candidate_id: int):
    candidate = visible_candidate(candidate_id)
    require("candidate.invite", candidate)
    try:
        user, token = invites.invite(candidate, g.user)
    except ValidationError as exc:
        flash(str(exc), "error")
        return _back(candidate)
    audit.record("candidate.portal_invite", candidate, details={"user": user.id})
    link = url_for("portal.welcome", token=token, _external=True)
    flash(_("Portal link for %(name)s (works once, for %(days)d days; send it to them yourself): %(link)s",
            name=candidate.name, days=invites.INVITE_DAYS, link=link), "info")
    return _back(candidate)


@web_bp.post("/recordings/<int:recording_id>/share")
@login_required
def recording_share(recording_id: int):
    recording = m.Recording.get_or_none(m.Recording.id == recording_id)
    if recording is None or not can(g.user, "recording.view", recording):
        raise NotFound(f"recording {recording_id}")
    require("recording.share", recording)
    shared = request.form.get("shared") == "1"
    m.Recording.update(shared_with_candidate=shared).where(m.Recording.id == recording.id).execute()
    audit.record("recording.share" if shared else "recording.unshare", recording)
    return _back(recording.candidate)


@web_bp.post("/interviews/<int:interview_id>/candidate-feedback")
@login_required
def interview_feedback(interview_id: int):
    interview = m.Interview.get_or_none(m.Interview.id == interview_id)
    if interview is None or not can(g.user, "interview.view", interview):
        raise NotFound(f"interview {interview_id}")
    require("candidate.invite", interview.candidate)  # HR speaks to the candidate
    text = clean_text(request.form.get("feedback")).strip()
    if len(text) > FEEDBACK_MAX:
        flash(_("Feedback is limited to %(n)d characters.", n=FEEDBACK_MAX), "error")
        return _back(interview.candidate)
    m.Interview.update(candidate_feedback=text or None).where(m.Interview.id == interview.id).execute()
    audit.record("interview.candidate_feedback", interview)
    return _back(interview.candidate)


@web_bp.post("/candidates/<int:candidate_id>/legal-hold")
@login_required
def legal_hold(candidate_id: int):
    candidate = visible_candidate(candidate_id)
    require("candidate.erase", candidate)
    hold = request.form.get("hold") == "1"
    m.Candidate.update(legal_hold=hold).where(m.Candidate.id == candidate.id).execute()
    audit.record("candidate.legal_hold" if hold else "candidate.legal_hold_lifted", candidate)
    return _back(candidate)


@web_bp.route("/candidates/<int:candidate_id>/erase", methods=["GET", "POST"])
@login_required
def candidate_erase(candidate_id: int):
    candidate = visible_candidate(candidate_id)
    require("candidate.erase", candidate)
    error = None
    if request.method == "POST":
        if clean_text(request.form.get("confirm_name")).strip() != candidate.name:
            error = _("Type the candidate's name exactly to confirm.")
        else:
            try:
                done = erase_candidate(candidate, g.user, reason=clean_text(request.form.get("reason")).strip())
            except ValidationError as exc:
                error = str(exc)
            else:
                flash(_("Candidate #%(id)d was erased: %(n)d stored objects deleted and the candidate's key destroyed.",
                        id=done["candidate"], n=done["objects_deleted"]), "info")
                return redirect(url_for("web.erasure_requests"))
    return render_template("candidates/erase.html", candidate=candidate, error=error,
                           objects=m.Recording.select().where(m.Recording.candidate == candidate).count()), (400 if error else 200)


@web_bp.get("/erasure-requests")
@login_required
def erasure_requests():
    require("candidate.list")
    if not can(g.user, "candidate.erase", m.Candidate(organisation=g.user.organisation_id)):
        raise NotFound("erasure requests")
    rows = (m.ErasureRequest.select().where(m.ErasureRequest.organisation == g.user.organisation_id)
            .order_by(m.ErasureRequest.requested_at.desc()).limit(500))
    return render_template("candidates/erasure_requests.html", rows=list(rows))
