"""`talentreel migrate`: bring in a legacy system, look at past runs, roll one back.

    talentreel migrate SOURCE_KIND PATH_OR_URL [--label-map FILE] [--dry-run] [--json]
    talentreel migrate rollback RUN_ID
    talentreel migrate list | show RUN_ID | verify RUN_ID | kinds | unmerge SOURCE_KIND LEGACY_ID

A run goes to the `migration` queue when a worker listens on it (`talentreel up` runs one) and
the command waits for it, printing progress; otherwise, or with --inline, it runs in this process.
Either way it is the same code and the same journal, and running the command again after an
interruption resumes the run. A dry run always runs here and writes nothing.
"""

from __future__ import annotations

import time

import click

from .. import models as m
from ..errors import NotFound, TalentReelError
from . import Group, Instance, cli, emit, json_option, pass_instance

POLL_SECONDS = 1.0


class _MigrateGroup(Group):
    """`migrate KIND PATH` is short for `migrate run KIND PATH`."""

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_MigrateGroup)
def migrate():
    """Migrate a legacy system: talentreel migrate SOURCE_KIND PATH_OR_URL [OPTIONS].

    See docs/migrators.md; `talentreel migrate kinds` lists the installed migrators."""


def _state(instance: Instance):
    return instance.app().extensions["talentreel"]


@migrate.command("run")
@click.argument("kind", metavar="SOURCE_KIND")
@click.argument("location", metavar="PATH_OR_URL")
@click.option("--label-map", type=click.Path(exists=True, dir_okay=False), help="CSV mapping old label names to new ones "
              "(default: the one the source offers, e.g. the export's label_map.csv).")
@click.option("--dry-run", is_flag=True, help="Plan and report only: write nothing.")
@click.option("--dedup", help='Candidate dedup rules, e.g. "phone+name,email+name" (default: any two of phone, email, name '
              'agree); "none" turns dedup off.')
@click.option("--no-match-existing", is_flag=True, help="Do not merge candidates into ones already in TalentReel.")
@click.option("--timezone", help="Time zone of the source's dates (default: the migrator's, e.g. +08:00).")
@click.option("--country-code", help="Dialling code dropped from phone numbers before comparing them (default 86).")
@click.option("--playback-sample", type=click.IntRange(min=0), help="Recordings the playback check decodes (default 3).")
@click.option("--inline/--queue", default=None, help="Run in this process, or hand the run to a worker "
              "(default: a worker when one listens on the migration queue).")
@click.option("--no-wait", is_flag=True, help="With a worker: print the run id and return at once.")
@json_option
@pass_instance
def run_migration(instance: Instance, kind, location, label_map, dry_run, dedup, no_match_existing, timezone, country_code,
                  playback_sample, inline, no_wait, as_json):
    """Migrate the source at PATH_OR_URL with the migrator SOURCE_KIND."""
    from talentreel.migrators import framework
    from talentreel.migrators.jobs import JOB, QUEUE

    from .. import jobs

    state = _state(instance)
    options = {"label_map": label_map, "dedup": dedup, "timezone": timezone, "playback_sample": playback_sample,
               "country_code": country_code, "match_existing": False if no_match_existing else None}
    with state.database.connection_context():
        if dry_run:
            report = framework.dry_run(state, kind, location, options)
            emit(report, as_json, summary(report))
            return
        run, resumed = framework.start(state, kind, location, options)
        if not as_json and resumed:
            click.echo(f"resuming run {run.id} (attempt {run.attempts + 1})", err=True)
        if inline is None:
            inline = not jobs.worker_listening(state.settings, QUEUE)
        if inline:
            report = framework.execute(state, run.id, publish=None if as_json else _progress_printer())
        else:
            item = jobs.enqueue(state.settings, QUEUE, JOB, run.id)
            m.MigrationRun.update(state="queued").where((m.MigrationRun.id == run.id) & m.MigrationRun.owner.is_null()).execute()
            if no_wait:
                emit({"run_id": run.id, "work_item": item.id, "state": "queued"}, as_json,
                     f"run {run.id} queued; follow it with: talentreel migrate show {run.id}")
                return
            report = _wait(state, run.id, quiet=as_json)
    emit(report, as_json, summary(report))
    if not report.get("accounted", True) or not report.get("playback_check", {}).get("ok", True):
        raise SystemExit(1)


def _progress_printer():
    last = {"message": None}

    def show(fraction, message):
        if message != last["message"]:
            last["message"] = message
            click.echo(f"  {message}", err=True)

    return show


def _wait(state, run_id: int, quiet: bool) -> dict:
    last = None
    while True:
        with state.database.connection_context():
            run = m.MigrationRun.get_by_id(run_id)
        if run.state == "done":
            return run.report or {}
        if run.state in ("failed", "rolled_back"):
            raise TalentReelError(f"run {run_id} {run.state}: {(run.error or '').splitlines()[0] if run.error else 'see talentreel migrate show'}")
        progress = run.progress or {}
        line = f"  {progress.get('phase', run.state)} {progress.get('done', '')}/{progress.get('total', '')}".rstrip("/")
        if not quiet and line != last:
            click.echo(line, err=True)
            last = line
        time.sleep(POLL_SECONDS)


@migrate.command("rollback")
@click.argument("run_id", type=int)
@json_option
@pass_instance
def rollback_cmd(instance: Instance, run_id, as_json):
    """Remove everything migration run RUN_ID created (and only that)."""
    from talentreel.migrators import framework

    state = _state(instance)
    with state.database.connection_context():
        result = framework.rollback(state, run_id)
    lines = [f"run {run_id} rolled back: " + (", ".join(f"{n} {t}" for t, n in result["deleted"].items()) or "nothing to delete")]
    for kept in result["kept"]:
        users = ", ".join(f"{u['rows']} {u['table']}" for u in kept["referenced_by"])
        lines.append(f"  kept {kept['table']} {kept['id']} ({kept['kind']} {kept['legacy_id']}): still used by {users}")
    emit(result, as_json, "\n".join(lines))


@migrate.command("verify")
@click.argument("run_id", type=int)
@click.option("--sample", type=click.IntRange(min=1), help="Recordings to decode (default: the run's playback sample).")
@json_option
@pass_instance
def verify_cmd(instance: Instance, run_id, sample, as_json):
    """Decode a sample of run RUN_ID's recordings end to end again (their replay MP4 once the
    media jobs made it) and keep the result in the run's report."""
    from talentreel.migrators import framework

    state = _state(instance)
    with state.database.connection_context():
        check = framework.verify(state, run_id, sample)
    lines = [f"playback check of run {run_id}: {sum(1 for c in check['checked'] if c['ok'])}/{len(check['checked'])} decoded end to end"]
    lines += [f"  {c['legacy_id']}: {c.get('object')} " + ("ok" if c["ok"] else c.get("error", "failed")) for c in check["checked"]]
    emit(check, as_json, "\n".join(lines))
    if not check["ok"]:
        raise SystemExit(1)


@migrate.command("list")
@json_option
@pass_instance
def list_cmd(instance: Instance, as_json):
    """Past and current migration runs."""
    state = _state(instance)
    with state.database.connection_context():
        rows = [{"id": run.id, "kind": run.kind, "location": run.location, "state": run.state, "attempts": run.attempts,
                 "created_at": run.created_at, "finished_at": run.finished_at,
                 "new": ((run.report or {}).get("totals") or {}).get("new")}
                for run in m.MigrationRun.select().order_by(m.MigrationRun.id)]
    text = "\n".join(f"{r['id']:>4}  {r['state']:<12} {r['kind']:<16} {r['location']}" for r in rows) or "no migration runs"
    emit(rows, as_json, text)


@migrate.command("show")
@click.argument("run_id", type=int)
@json_option
@pass_instance
def show_cmd(instance: Instance, run_id, as_json):
    """The verification report of run RUN_ID (progress while it runs)."""
    state = _state(instance)
    with state.database.connection_context():
        run = m.MigrationRun.get_or_none(m.MigrationRun.id == run_id)
        if run is None:
            raise NotFound(f"no migration run {run_id}")
        if run.report:
            emit(run.report, as_json, summary(run.report) + f"\nstate: {run.state}")
        else:
            data = {"id": run.id, "state": run.state, "progress": run.progress, "error": run.error}
            emit(data, as_json, f"run {run.id}: {run.state} {run.progress or ''}" + (f"\n{run.error}" if run.error else ""))


@migrate.command("kinds")
@json_option
@pass_instance
def kinds_cmd(instance: Instance, as_json):
    """The installed migrators."""
    from talentreel.migrators.reader import migrators

    found = migrators(_state(instance).plugins)
    rows = [{"kind": k, "version": d.get("version"), "title": d.get("title"), "plugin": d.get("plugin")} for k, d in sorted(found.items())]
    emit(rows, as_json, "\n".join(f"{r['kind']:<20} {r['version'] or '-':<8} {r['title'] or ''}" for r in rows) or "no migrators installed")


@migrate.command("unmerge")
@click.argument("kind", metavar="SOURCE_KIND")
@click.argument("legacy_id")
@json_option
@pass_instance
def unmerge_cmd(instance: Instance, kind, legacy_id, as_json):
    """Undo the merge of candidate LEGACY_ID: it becomes a candidate of its own again, with its
    interviews, recordings, reports, grants and notes."""
    from talentreel.migrators.merges import unmerge

    state = _state(instance)
    with state.database.connection_context():
        result = unmerge(state, kind, legacy_id)
    emit(result, as_json, f"candidate {legacy_id} is candidate {result['candidate_id']} again "
                          f"({result['interviews']} interview(s), {result['recordings']} recording(s) moved)")


def summary(report: dict) -> str:
    """The report in a few lines for people; --json gives all of it."""
    run = report.get("run", {})
    head = "dry run" if run.get("dry_run") else f"run {run.get('id')}"
    lines = [f"{head} of {run.get('kind')} from {run.get('location')}" + (f" (attempt {run.get('attempts')})" if (run.get("attempts") or 0) > 1 else "")]
    lines.append(f"{'':<14}{'source':>8}{'migrated':>10}{'new':>6}{'merged':>8}{'rejected':>10}{'duplicates':>12}")
    for name, e in report.get("entities", {}).items():
        if e["in_source"]:
            lines.append(f"{name:<14}{e['in_source']:>8}{e['migrated']:>10}{e['new']:>6}{e['merged']:>8}{e['rejected']:>10}{e['duplicates']:>12}"
                         + ("" if e["accounted"] else "  (does not add up!)"))
    if report.get("rejects"):
        lines.append("rejected:")
        lines += [f"  {r['kind']} {r['legacy_id'] or '-'}: {r['reason']}" + (f" ({r['detail']})" if r.get("detail") else "")
                  + (f" [{r['where']}]" if r.get("where") else "") for r in report["rejects"]]
    if report.get("merges"):
        lines.append("merged:")
        lines += [f"  {x['kind']} {x['legacy_id']} -> {x['into']} ({x['rule']})" for x in report["merges"]]
    labels = report.get("labels", {})
    lines.append(f"labels: {len(labels.get('used', {})) - len(labels.get('unmapped', []))} mapped, "
                 f"{len(labels.get('unmapped', []))} unmapped" + (f": {', '.join(labels['unmapped'])}" if labels.get("unmapped") else ""))
    for problem in labels.get("problems", []):
        lines.append(f"  label map: {problem['problem']}: {' -> '.join(problem.get('labels', [])) or problem.get('detail', '')} (rows {problem.get('rows')})")
    if report.get("warnings"):
        lines.append(f"warnings: {len(report['warnings'])} (see --json)")
    media = report.get("media", {})
    if media.get("recordings"):
        verb = "to process" if run.get("dry_run") else "queued for processing"
        lines.append(f"media: {media['recordings']} new recording(s) {verb} ({media['remux']} remux, {media['transcode']} transcode)")
    check = report.get("playback_check", {})
    if check.get("checked"):
        good = sum(1 for c in check["checked"] if c["ok"])
        lines.append(f"playback check: {good}/{len(check['checked'])} decoded end to end")
    return "\n".join(lines)
