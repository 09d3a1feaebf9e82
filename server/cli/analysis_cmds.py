"""Commands for the analysis: calibrate thresholds from reviewers' verdicts, re-analyse outdated reports."""

from __future__ import annotations

import click

from .. import models as m
from ..errors import NotFound
from . import Instance, cli, emit, json_option, pass_instance


@cli.command()
@click.option("--organisation", "organisation_id", type=int, help="One organisation (default: every organisation).")
@json_option
@pass_instance
def calibrate(instance: Instance, organisation_id, as_json):
    """Tune analyzer thresholds from reviewers' verdicts on cues, now, and print agreement before and after."""
    from ...workers.calibration import calibrate_organisation_now
    from ..review.calibration import as_dict

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        query = m.Organisation.select().order_by(m.Organisation.id)
        if organisation_id is not None:
            query = query.where(m.Organisation.id == organisation_id)
            if not query.exists():
                raise NotFound(f"no organisation with id {organisation_id}")
        runs = [as_dict(calibrate_organisation_now(app, org.id)) for org in query]
    lines = []
    for run in runs:
        lines.append(f"organisation {run['organisation_id']}: {run['feedback_count']} verdicts")
        for key in sorted(run["before"]):
            lines.append(f"  {key:<36} {run['before'][key]:>7} -> {run['after'][key]:<7} agreement "
                         f"{run['agreement_before'][key]:.0%} -> {run['agreement_after'][key]:.0%}  ({run['details'][key]['why']})")
    emit({"calibrations": runs}, as_json, "\n".join(lines) or "no organisation")


@cli.command()
@json_option
@pass_instance
def reanalyse(instance: Instance, as_json):
    """Queue a new analysis of every recording whose report an older analyzer version produced."""
    from ...workers.analysis import enqueue_outdated, outdated_recordings

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        outdated = dict(outdated_recordings(app))
        queued = enqueue_outdated(app)
    emit({"outdated": {str(k): v for k, v in outdated.items()}, "queued": queued}, as_json,
         f"{len(outdated)} outdated reports; queued {len(queued)} analyses"
         + "".join(f"\n  recording {rid}: {', '.join(f'{n} {a}->{b}' for n, (a, b) in ch.items())}" for rid, ch in outdated.items()))
