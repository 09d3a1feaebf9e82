"""The migration framework's entry points: start a run, execute it (resuming one that was cut
off), dry-run a source, roll a run back.

    run, resumed = start(state, "legacy-export", "/exports/acme", options)
    report = execute(state, run.id)          # in the `migration` worker, or inline in the CLI
    report = dry_run(state, "legacy-export", "/exports/acme", options)   # writes nothing
    check = verify(state, run.id)            # the playback check again, after the media jobs ran
    summary = rollback(state, run.id)

Callers hold a database connection (the job wrapper and the CLI open one). Options:

- ``label_map``: path of the label map file (default: the one the reader offers, e.g. the
  export's own label_map.csv);
- ``dedup``: candidate dedup rules, "phone+name,email+name,phone+email" by default, "none" for off;
- ``match_existing``: also match candidates already in TalentReel (default true);
- ``timezone``: zone of the source's times (default: the reader's);
- ``playback_sample``: recordings the playback check decodes (default 3, 0 for none);
- ``country_code``: dialling code stripped from phone numbers before comparing (default "86").
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from talentreel.server import audit
from talentreel.server import models as m
from talentreel.server.errors import TalentReelError, ValidationError

from . import dedup, inputs, journal
from . import plan as planning
from . import report as reporting
from .loader import Loader
from .reader import make_reader

DEFAULT_OPTIONS = {"label_map": None, "dedup": None, "match_existing": True, "timezone": None,
                   "playback_sample": reporting.PLAYBACK_SAMPLE, "country_code": dedup.DEFAULT_COUNTRY_CODE}


class MigrationBusy(TalentReelError):
    """Another process is working on this migration run right now."""


def normalise_location(location: str) -> str:
    """A URL as given; a path made absolute, so a rerun from another directory finds its run."""
    text = str(location).strip()
    if "://" in text and not text.startswith("file://"):
        return text
    if text.startswith("file://"):
        text = text[len("file://"):]
    return str(Path(text).expanduser().resolve())


def normalise_options(options: Mapping[str, Any] | None) -> dict:
    """Defaults filled in and values checked, so a bad option stops the run before it starts."""
    unknown = set(options or {}) - set(DEFAULT_OPTIONS) - {"role_map"}
    if unknown:
        raise ValidationError(f"unknown migration option(s): {', '.join(sorted(unknown))}")
    values = dict(DEFAULT_OPTIONS, **{k: v for k, v in (options or {}).items() if v is not None})
    if values["label_map"]:
        path = Path(values["label_map"]).expanduser().resolve()
        if not path.is_file():
            raise ValidationError(f"label map {path}: no such file", field="label_map")
        values["label_map"] = str(path)
    try:
        values["dedup"] = ",".join(dedup.rules_text(dedup.parse_rules(values["dedup"]))) or "none"
    except ValueError as exc:
        raise ValidationError(str(exc), field="dedup") from None
    if values["timezone"]:
        try:
            inputs.parse_timezone(values["timezone"])
        except ValueError as exc:
            raise ValidationError(str(exc), field="timezone") from None
    code = str(values["country_code"]).strip().lstrip("+")
    if not code.isdigit():
        raise ValidationError(f"country code {values['country_code']!r}: digits only, e.g. 86", field="country_code")
    values["country_code"] = code
    values["playback_sample"] = max(0, int(values["playback_sample"]))
    values["match_existing"] = bool(values["match_existing"])
    return values


def _reader(state, kind: str, location: str, options: dict):
    reader, description = make_reader(state.plugins, kind, location, options)
    reader.check()
    return reader, description


def start(state, kind: str, location: str, options: Mapping[str, Any] | None = None, *,
          actor: m.User | None = None) -> tuple[m.MigrationRun, bool]:
    """The run to execute: a new one (queued), or the unfinished run of the same kind and location
    (returned with True: executing it resumes it). Checks the migrator, location and options first,
    so nothing is written for a run that could not start."""
    location = normalise_location(location)
    options = normalise_options(options)
    _reader(state, kind, location, options)
    for run in journal.unfinished(kind):
        if run.location != location:
            raise ValidationError(f"run {run.id} of {kind} from {run.location} did not finish: run it again to resume it, "
                                  f"or roll it back (talentreel migrate rollback {run.id}) before migrating another source of this kind")
        if run.options != options:
            raise ValidationError(f"run {run.id} of this source did not finish and was started with other options "
                                  f"({_differences(run.options, options)}); run it again with the same options, or roll it back")
        if run.owner and journal.owner_alive(run):
            raise MigrationBusy(f"run {run.id} is being worked on by {run.owner}")
        return run, True
    run = m.MigrationRun.create(kind=kind, location=location, options=options, state="queued", created_by=actor)
    audit.record("migration.create", run, actor=actor, details={"kind": kind, "location": location})
    return run, False


def _differences(old: dict, new: dict) -> str:
    return "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def execute(state, run_id: int, *, on_item: Callable[[str, str, int], None] | None = None,
            publish: Callable[[float, str], None] | None = None) -> dict:
    """Carry out a run and return its report; a run cut off earlier continues where it stopped.

    on_item(kind, legacy_id, count) is called after each record is committed (tests use it to
    kill the process at a chosen point); publish(fraction, message) receives progress.
    """
    run = m.MigrationRun.get_by_id(run_id)
    if run.state in ("done", "rolled_back"):
        return run.report or {}
    for other in journal.unfinished(run.kind):
        if other.id != run.id and other.owner and journal.owner_alive(other):
            raise MigrationBusy(f"run {other.id} of {run.kind} is being worked on by {other.owner}; one run per source at a time")
    if not journal.claim(run):
        raise MigrationBusy(f"run {run.id} is being worked on by {run.owner}")
    actor = m.User.get_or_none(m.User.id == run.created_by_id) if run.created_by_id else None
    if run.attempts > 1:
        audit.record("migration.resume", run, actor=actor, details={"attempt": run.attempts})
    workdir = Path(tempfile.mkdtemp(prefix=f"talentreel-migration-{run.id}-"))
    try:
        reader, description = _reader(state, run.kind, run.location, run.options)
        reader.workdir = workdir
        heartbeat = journal.Heartbeat(run, publish)
        heartbeat("read", 0, 0, force=True)
        plan = planning.build(state, run.kind, reader, dict(run.options, location=run.location))
        Loader(state, run, plan, actor=actor, on_item=on_item, heartbeat=heartbeat).load()
        heartbeat("verify", 0, 0, force=True)
        report = reporting.build(plan, run=run, description=description, dry_run=False)
        report["playback_check"] = reporting.playback_check(state, run.kind, run.options.get("playback_sample", 0), seed=run.id)
        report["run"]["finished_at"] = m.utcnow().isoformat()
        journal.release(run, "done", report=report)
        audit.record("migration.finish", run, actor=actor, details={"totals": report["totals"], "accounted": report["accounted"]})
        return report
    except Exception as exc:
        journal.release(run, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def dry_run(state, kind: str, location: str, options: Mapping[str, Any] | None = None) -> dict:
    """The report a run would produce, without writing anything (not even a run row)."""
    location = normalise_location(location)
    options = normalise_options(options)
    workdir = Path(tempfile.mkdtemp(prefix="talentreel-migration-dry-"))
    try:
        reader, description = _reader(state, kind, location, options)
        reader.workdir = workdir
        plan = planning.build(state, kind, reader, dict(options, location=location))
        report = reporting.build(plan, run=None, description=description, dry_run=True)
        report["playback_check"] = reporting.playback_check(state, kind, options["playback_sample"], seed=0, plan=plan)
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def verify(state, run_id: int, sample: int | None = None) -> dict:
    """Run the playback check of a finished run again (e.g. once the media jobs made the replay
    MP4s) and keep it in the run's report; returns the check."""
    from talentreel.server.errors import NotFound

    run = m.MigrationRun.get_or_none(m.MigrationRun.id == run_id)
    if run is None:
        raise NotFound(f"no migration run {run_id}")
    if run.state != "done":
        raise ValidationError(f"run {run_id} is {run.state}: only a finished run can be verified")
    if sample is None:
        sample = run.options.get("playback_sample") or reporting.PLAYBACK_SAMPLE
    check = reporting.playback_check(state, run.kind, sample, seed=run.id)
    check["at"] = m.utcnow().isoformat()
    m.MigrationRun.update(report=dict(run.report or {}, playback_check=check)).where(m.MigrationRun.id == run.id).execute()
    return check


def rollback(state, run_id: int, *, actor: m.User | None = None) -> dict:
    from .rollback import rollback as undo

    return undo(state, run_id, actor=actor)
