"""Commands for privacy work: retention rules and their sweep, access reviews."""

from __future__ import annotations

import click

from .. import models as m
from . import Instance, cli, emit, json_option, pass_instance


def _organisation(organisation_id: int | None) -> m.Organisation:
    from ..accounts import default_organisation

    if organisation_id is None:
        return default_organisation()
    organisation = m.Organisation.get_or_none(m.Organisation.id == organisation_id)
    if organisation is None:
        raise click.BadParameter(f"no organisation {organisation_id}", param_hint="--organisation")
    return organisation


@cli.group()
def retention():
    """Retention rules: how long candidates are kept after their openings close."""


@retention.command("set")
@click.option("--days-after-close", type=click.IntRange(min=0), required=True,
              help="Erase candidates this many days after the last opening they applied to closed; 0: keep.")
@click.option("--organisation", "organisation_id", type=int, help="Organisation id (default: the default organisation).")
@json_option
@pass_instance
def retention_set(instance: Instance, days_after_close, organisation_id, as_json):
    """Set an organisation's retention rule."""
    from .. import retention as rules

    app = instance.app()
    with app.app_context(), app.extensions["talentreel"].database.connection_context():
        organisation = _organisation(organisation_id)
        rules.set_days_after_close(organisation, days_after_close)
    emit({"organisation": organisation.id, "days_after_close": days_after_close}, as_json,
         f"organisation {organisation.id}: " + (f"candidates erased {days_after_close} days after their last opening closed"
                                                if days_after_close else "candidates kept"))


@retention.command("sweep")
@click.option("--dry-run", is_flag=True, help="List who would be erased; erase nobody.")
@json_option
@pass_instance
def retention_sweep(instance: Instance, dry_run, as_json):
    """Apply the retention rules now (the worker does it daily)."""
    from .. import retention as rules

    app = instance.app()
    with app.app_context(), app.extensions["talentreel"].database.connection_context():
        result = rules.sweep(dry_run=dry_run)
    lines = [f"organisation {o['organisation']} ({o['days_after_close'] or 'keep'} days): "
             f"{'would erase' if dry_run else 'erased'} {len(o['candidates'])} candidate(s) {o['candidates'] or ''}".rstrip()
             for o in result["organisations"]]
    emit(result, as_json, "\n".join(lines))


@cli.command("access-review")
@click.option("--organisation", "organisation_id", type=int, help="Organisation id (default: the default organisation).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per role reach or grant.")
@json_option
@pass_instance
def access_review_cmd(instance: Instance, organisation_id, as_csv, as_json):
    """Who can see which candidates and why; grants unused for 90 days are flagged."""
    from .. import access_review

    app = instance.app()
    with app.app_context(), app.extensions["talentreel"].database.connection_context():
        review = access_review.build(_organisation(organisation_id))
    if as_csv:
        click.echo(access_review.to_csv(review), nl=False)
        return
    lines = []
    for user in review["users"]:
        reach = "; ".join(f"{r['why']} ({r['candidates']})" for r in user["reach"]) or "no role reach"
        lines.append(f"{user['username']}{'' if user['active'] else ' (disabled)'}: {reach}; {len(user['grants'])} grant(s)")
        lines += [f"    grant #{g['grant']} {g['permission']} {g['candidate_name']}: {', '.join(g['flags'])}" for g in user["grants"] if g["flags"]]
    lines.append(f"{review['grants_flagged']} grant(s) flagged")
    emit(review, as_json, "\n".join(lines))
