"""The dashboard: counts, the latest candidates and the next interviews the signed-in user may see."""

from flask import g, redirect, render_template, url_for

from .. import models as m
from .. import scoping
from ..permissions import can, login_required
from . import web_bp
from .interviews import interviewers_of, listed_interviews, upcoming_from
from .listing import visible

LATEST = 8
"""Rows in each of the dashboard's short lists; the list pages have the rest."""


@web_bp.get("/")
@login_required
def dashboard():
    if g.user.roles == {"candidate"}:
        return redirect(url_for("portal.home"))  # a candidate's home is the portal
    # Counts come from the scoped queries alone: asking the permission hook about every row of the
    # organisation is what scoping.py exists to avoid. The short lists are checked row by row.
    counts = {}
    latest_candidates = upcoming_interviews = None
    interviewers = {}
    if can(g.user, "candidate.list"):
        candidates = scoping.candidates(g.user)
        counts["candidates"] = candidates.count()
        latest_candidates = visible(candidates.order_by(m.Candidate.created_at.desc(), m.Candidate.id.desc()).limit(LATEST), "candidate.view")
    if can(g.user, "opening.list"):
        counts["openings"] = scoping.openings(g.user).where(m.Opening.status == "open").count()
    if can(g.user, "interview.list"):
        upcoming = listed_interviews(g.user).where(m.Interview.scheduled_at >= upcoming_from())
        counts["interviews"] = upcoming.count()
        upcoming_interviews = visible(upcoming.order_by(m.Interview.scheduled_at, m.Interview.id).limit(LATEST), "interview.view")
        interviewers = interviewers_of(upcoming_interviews)
    return render_template(
        "dashboard.html", counts=counts, latest_candidates=latest_candidates, upcoming_interviews=upcoming_interviews,
        interviewers=interviewers,
    )
