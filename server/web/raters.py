"""Interviewer calibration page: how each interviewer's ratings compare with their peers' on the
same candidates and with the AI's evidence (server/review/raters.py). Not the calibration of the
analysis' thresholds, which is web/calibration.py."""

from __future__ import annotations

from flask import g, render_template

from .. import audit
from ..i18n import _
from ..permissions import login_required, require
from ..review import raters
from . import locale_code, web_bp


@web_bp.get("/reviews/calibration")
@login_required
def rater_calibration_page():
    require("rater_calibration.view")
    observations, evidence, labels = raters.read(g.user, locale_code())
    reports = raters.calibrate(observations, evidence, labels, overall_label=_("All ratings"),
                               no_competency_label=_("Overall (no competency named)"))
    audit.record("rater_calibration.view", g.user.organisation, details={"ratings": len(observations), "interviewers": len(reports)})
    return render_template("reviews/rater_calibration.html", reports=reports, rating_count=len(observations),
                           flag_points=raters.FLAG_POINTS, evidence_flag=raters.EVIDENCE_FLAG, min_shared=raters.MIN_SHARED,
                           department_scope="hr" not in g.user.roles and "it_admin" not in g.user.roles)
