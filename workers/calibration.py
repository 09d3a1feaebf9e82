"""Jobs calibrating organisations' analyzer thresholds from reviewers' verdicts on cues.

On the `maintenance` queue: calibration is light database work, and it must not wait behind
long analyses (`talentreel calibrate` runs the same function in the foreground).
"""

from __future__ import annotations

from talentreel.server import models as m
from talentreel.server.plugins import merged_by_name
from talentreel.server.review import calibration

from .base import get_app, job


def calibratable(app) -> dict[str, dict]:
    """{threshold key: {"kinds", "default"}} declared by the enabled analyzers."""
    result: dict[str, dict] = {}
    for description in merged_by_name(app.extensions["talentreel"].plugins, "talentreel_analyzers").values():
        if description.get("enabled", True):
            result.update(description.get("calibration") or {})
    return result


def calibrate_organisation_now(app, organisation_id: int) -> m.Calibration:
    return calibration.calibrate(m.Organisation.get_by_id(organisation_id), calibratable(app))


@job
def calibrate_organisation(organisation_id: int) -> dict:
    row = calibrate_organisation_now(get_app(), organisation_id)
    return {"calibration": row.id, "after": row.after, "agreement_before": row.agreement_before,
            "agreement_after": row.agreement_after}


@job
def calibrate_all() -> dict:
    """Every organisation with verdicts since its last calibration."""
    app = get_app()
    done = []
    for organisation in list(m.Organisation.select()):
        last = calibration.latest(organisation, limit=1)
        newer = m.CueFeedback.select().where(m.CueFeedback.organisation == organisation)
        if last:
            newer = newer.where(m.CueFeedback.created_at > last[0].created_at)
        if newer.exists():
            done.append(calibrate_organisation_now(app, organisation.id).id)
    return {"calibrations": done}
