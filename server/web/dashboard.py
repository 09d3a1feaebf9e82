"""The dashboard: what needs the signed-in user's attention."""

from flask import g, render_template

from .. import models as m
from ..permissions import can, login_required
from . import web_bp


@web_bp.get("/")
@login_required
def dashboard():
    counts = {}
    if can(g.user, "candidate.list"):
        counts["candidates"] = m.Candidate.select().where(m.Candidate.organisation == g.user.organisation).count()
    if can(g.user, "opening.list"):
        counts["openings"] = m.Opening.select().where((m.Opening.organisation == g.user.organisation) & (m.Opening.status == "open")).count()
    return render_template("dashboard.html", counts=counts)
