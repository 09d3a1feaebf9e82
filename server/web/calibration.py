"""HR's view of calibration: how each organisation threshold was tuned from reviewers' verdicts,
with the agreement before and after, and a button to calibrate now (queued, runs on a worker)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for

from .. import audit, jobs
from .. import models as m
from ..errors import InstanceNotRunning, QueueUnavailable
from ..i18n import _
from ..permissions import login_required, require
from ..review import calibration
from . import web_bp

CALIBRATE_JOB = "talentreel.workers.calibration.calibrate_organisation"


@web_bp.get("/calibration")
@login_required
def calibration_page():
    require("calibration.view")
    organisation = g.user.organisation
    verdicts = m.CueFeedback.select().where(m.CueFeedback.organisation == organisation)
    audit.record("calibration.view", organisation)
    return render_template("calibration.html", runs=calibration.latest(organisation),
                           thresholds=(organisation.settings or {}).get("thresholds") or {},
                           verdict_count=verdicts.count(), right_count=verdicts.where(m.CueFeedback.correct == True).count())  # noqa: E712


@web_bp.post("/calibration")
@login_required
def calibration_run():
    require("calibration.run")
    settings = current_app.extensions["talentreel"].settings
    try:
        jobs.enqueue(settings, "maintenance", CALIBRATE_JOB, g.user.organisation_id)
    except (QueueUnavailable, InstanceNotRunning):  # recorded in the database all the same
        pass
    audit.record("calibration.run", g.user.organisation)
    flash(_("Calibration was queued; this page shows its result once a worker has run it."))
    return redirect(url_for("web.calibration_page"))
