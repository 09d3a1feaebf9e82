"""Opening (job requisition) pages: the list by status and department, one opening, and adding one."""

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
from .submissions import Submission

STATUS_FILTERS = ("open", "closed", "all")


def visible_opening(opening_id: int) -> m.Opening:
    opening = m.Opening.get_or_none(m.Opening.id == opening_id)
    if opening is None or not can(g.user, "opening.view", opening):
        raise NotFound(f"opening {opening_id}")
    return opening


def departments_with_openings_for(user) -> list[m.Department]:
    """The departments whose openings the user may list: the department filter offers only these."""
    owning = scoping.openings(user).select(m.Opening.department)
    return list(m.Department.select().where(m.Department.id.in_(owning)).order_by(m.Department.name))


def applicant_counts(openings) -> dict[int, int]:
    ids = [o.id for o in openings]
    if not ids:
        return {}
    rows = (
        m.Application.select(m.Application.opening, pw.fn.COUNT(m.Application.id).alias("n"))
        .where(m.Application.opening.in_(ids))
        .group_by(m.Application.opening)
        .tuples()
    )
    return dict(rows)


def open_openings() -> dict[str, m.Opening]:
    """Open openings the user may see, keyed by id as a form submits it: the choices of the
    candidate and interview forms."""
    query = (
        scoping.openings(g.user).select_extend(m.Department).join(m.Department)
        .where(m.Opening.status == "open").order_by(m.Opening.title)
    )
    return {str(o.id): o for o in query if can(g.user, "opening.view", o)}


@web_bp.get("/openings")
@login_required
def opening_list():
    require("opening.list")
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        status = "open"
    departments = departments_with_openings_for(g.user)
    department = next((d for d in departments if str(d.id) == request.args.get("department")), None)
    query = scoping.openings(g.user).select_extend(m.Department).join(m.Department)
    if status != "all":
        query = query.where(m.Opening.status == status)
    if department is not None:
        query = query.where(m.Opening.department == department)
    page = visible_page(query.order_by(m.Opening.created_at.desc(), m.Opening.id.desc()), "opening.view")
    return render_template(
        "openings/list.html", page=page, status=status, statuses=STATUS_FILTERS, departments=departments,
        department=department, counts=applicant_counts(page.rows),
    )


@web_bp.get("/openings/<int:opening_id>")
@login_required
def opening_detail(opening_id: int):
    opening = visible_opening(opening_id)
    applications = [
        a for a in m.Application.select(m.Application, m.Candidate).join(m.Candidate)
        .where(m.Application.opening == opening).order_by(m.Application.created_at.desc())
        if can(g.user, "candidate.view", a.candidate)
    ]
    interviews = visible(
        opening.interviews.order_by(m.Interview.scheduled_at.desc(nulls="LAST"), m.Interview.id.desc()), "interview.view"
    )
    return render_template("openings/detail.html", opening=opening, applications=applications, interviews=interviews)


@web_bp.route("/openings/new", methods=["GET", "POST"])
@login_required
def opening_new():
    require("opening.create")
    departments = {
        str(d.id): d
        for d in m.Department.select().where(m.Department.organisation == g.user.organisation_id).order_by(m.Department.name)
    }
    form = Submission(request.form if request.method == "POST" else None)
    if request.method == "POST":
        title = form.text("title", required=True, missing=_("Enter the title of the opening."))
        department = form.choice("department", departments, missing=_("Choose the department that owns the opening."))
        if form.ok:
            opening = m.Opening.create(organisation=g.user.organisation_id, department=department, title=title)
            audit.record("opening.create", opening)
            flash(_("Opening %(title)s was added.", title=opening.title))
            return redirect(url_for("web.opening_detail", opening_id=opening.id))
    return render_template("openings/new.html", form=form, departments=departments), (400 if form.errors else 200)
