"""Candidate pages: the list with search, one candidate's file, and adding a candidate."""

from __future__ import annotations

import peewee as pw
from flask import flash, g, redirect, render_template, request, url_for

from .. import audit, scoping
from .. import models as m
from ..errors import NotFound
from ..i18n import _
from ..permissions import can, login_required, require
from . import web_bp
from .listing import visible, visible_page
from .openings import open_openings
from .submissions import Submission, clean_text


def visible_candidate(candidate_id: int) -> m.Candidate:
    """The candidate, or NotFound (404) when it does not exist or the user may not see it: a 403
    would confirm to the curious that the id exists."""
    candidate = m.Candidate.get_or_none(m.Candidate.id == candidate_id)
    if candidate is None or not can(g.user, "candidate.view", candidate):
        raise NotFound(f"candidate {candidate_id}")
    return candidate


def openings_applied_to(candidates) -> dict[int, list[m.Opening]]:
    """Per candidate id, the openings applied to that the user may see (one query for the page)."""
    ids = [c.id for c in candidates]
    if not ids:
        return {}
    rows = (
        m.Application.select(m.Application, m.Opening)
        .join(m.Opening)
        .where(m.Application.candidate.in_(ids))
        .order_by(m.Application.created_at)
    )
    seen: dict[int, bool] = {}
    result: dict[int, list[m.Opening]] = {}
    for application in rows:
        opening = application.opening
        if opening.id not in seen:
            seen[opening.id] = can(g.user, "opening.view", opening)
        if seen[opening.id]:
            result.setdefault(application.candidate_id, []).append(opening)
    return result


@web_bp.get("/candidates")
@login_required
def candidate_list():
    require("candidate.list")
    search = clean_text(request.args.get("q")).strip()
    query = scoping.candidates(g.user)
    if search:
        query = query.where(
            m.Candidate.name.contains(search) | m.Candidate.email.contains(search) | m.Candidate.phone.contains(search)
        )
    page = visible_page(query.order_by(m.Candidate.created_at.desc(), m.Candidate.id.desc()), "candidate.view")
    return render_template("candidates/list.html", page=page, search=search, openings_of=openings_applied_to(page.rows))


@web_bp.get("/candidates/<int:candidate_id>")
@login_required
def candidate_detail(candidate_id: int):
    candidate = visible_candidate(candidate_id)
    audit.record("candidate.view", candidate)
    applications = [
        a for a in m.Application.select(m.Application, m.Opening, m.Department).join(m.Opening).join(m.Department)
        .where(m.Application.candidate == candidate).order_by(m.Application.created_at.desc())
        if can(g.user, "opening.view", a.opening)
    ]
    interviews = visible(
        candidate.interviews.order_by(m.Interview.scheduled_at.desc(nulls="LAST"), m.Interview.id.desc()), "interview.view"
    )
    recordings = visible(candidate.recordings.order_by(m.Recording.created_at.desc()), "recording.view")
    return render_template(
        "candidates/detail.html", candidate=candidate, applications=applications, interviews=interviews, recordings=recordings
    )


def _email_taken(email: str) -> m.Candidate | None:
    # Duplicates are the talent pool's worst enemy; one e-mail, one candidate per organisation.
    return (
        m.Candidate.select()
        .where((m.Candidate.organisation == g.user.organisation_id) & (pw.fn.LOWER(m.Candidate.email) == email.lower()))
        .first()
    )


@web_bp.route("/candidates/new", methods=["GET", "POST"])
@login_required
def candidate_new():
    require("candidate.create")
    openings = open_openings()
    form = Submission(request.form if request.method == "POST" else None)
    if request.method == "POST":
        name = form.text("name", required=True, missing=_("Enter the candidate's name."))
        email = form.email("email")
        phone = form.phone("phone")
        opening = form.choice("opening", openings, required=False)
        if email and _email_taken(email):
            form.fail("email", _("A candidate with this e-mail address exists already."))
        if form.ok:
            with m.Candidate._meta.database.atomic():
                candidate = m.Candidate.create(organisation=g.user.organisation_id, name=name, email=email, phone=phone)
                if opening is not None:
                    m.Application.create(candidate=candidate, opening=opening)
            audit.record("candidate.create", candidate)
            flash(_("Candidate %(name)s was added.", name=candidate.name))
            return redirect(url_for("web.candidate_detail", candidate_id=candidate.id))
    return render_template("candidates/new.html", form=form, openings=openings), (400 if form.errors else 200)
