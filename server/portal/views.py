"""The candidate's pages: home (shared replays, feedback), the data export, the erasure request,
and the one-time welcome link that sets the portal password."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, send_file, session, url_for

from .. import audit
from .. import models as m
from ..accounts import set_password
from ..auth import sessions
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..permissions import can, login_required
from . import invites, portal_bp
from .export import build_zip


def own_profiles() -> list[m.Candidate]:
    """The candidate rows of the signed-in candidate account (one per organisation, normally one)."""
    return [c for c in m.Candidate.select().where(m.Candidate.user == g.user) if can(g.user, "candidate.view", c)]


@portal_bp.get("/")
@login_required
def home():
    profiles = own_profiles()
    if not profiles:
        raise NotFound("portal profile")
    shared = {c.id: [r for r in c.recordings.where(m.Recording.state == "ready").order_by(m.Recording.created_at)
                     if can(g.user, "recording.play", r)] for c in profiles}
    feedback = {c.id: [i for i in c.interviews.order_by(m.Interview.scheduled_at) if i.candidate_feedback] for c in profiles}
    pending = {c.id: m.ErasureRequest.select().where((m.ErasureRequest.candidate == c) & (m.ErasureRequest.state == "requested")).exists()
               for c in profiles}
    return render_template("portal/home.html", profiles=profiles, shared=shared, feedback=feedback, pending=pending)


def _own(candidate_id: int, action: str) -> m.Candidate:
    candidate = m.Candidate.get_or_none(m.Candidate.id == candidate_id)
    if candidate is None or not can(g.user, action, candidate):
        raise NotFound(f"candidate {candidate_id}")  # another candidate's id does not exist, as far as ids go
    return candidate


@portal_bp.get("/<int:candidate_id>/export.zip")
@login_required
def export(candidate_id: int):
    candidate = _own(candidate_id, "candidate.export")
    audit.record("candidate.export", candidate)
    archive = build_zip(candidate)
    return send_file(archive, mimetype="application/zip", as_attachment=True,
                     download_name=f"talentreel-data-{candidate.id}.zip", max_age=0)


@portal_bp.post("/<int:candidate_id>/erasure")
@login_required
def request_erasure(candidate_id: int):
    candidate = _own(candidate_id, "candidate.request_erasure")
    waiting = m.ErasureRequest.select().where((m.ErasureRequest.candidate == candidate) & (m.ErasureRequest.state == "requested")).exists()
    if not waiting:
        m.ErasureRequest.create(candidate=candidate, organisation=candidate.organisation, candidate_ref=f"candidate #{candidate.id}",
                                requested_by=g.user)
        audit.record("candidate.erasure_requested", candidate)
    flash(_("Your request to delete your data was received. HR will confirm when it is done."), "info")
    return redirect(url_for("portal.home"))


@portal_bp.route("/welcome", methods=["GET", "POST"])
def welcome():
    """The invite link: choose a password, then be signed in."""
    token = request.values.get("token", "")
    invite = invites.open_invite(token)
    if invite is None:
        return render_template("error.html", status=404, message=_("This invitation link is not valid, was already used or has expired.")), 404
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            if password != request.form.get("password_again", ""):
                raise ValidationError(_("The two passwords differ."), field="password")
            set_password(invite.user, password)
        except ValidationError as exc:
            error = str(exc)
        else:
            m.PortalInvite.update(used_at=m.utcnow()).where(m.PortalInvite.id == invite.id).execute()
            audit.record("user.portal_welcome", invite.user, actor=invite.user)
            sessions.start(current_app, session, invite.user, request)
            g.user = invite.user
            return redirect(url_for("portal.home"))
    return render_template("portal/welcome.html", token=token, user=invite.user, error=error), (400 if error else 200)
