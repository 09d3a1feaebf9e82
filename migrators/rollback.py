"""Undoing migrations: a whole run, or one merge decision.

Rolling back a run removes what it created, newest first, and only that: rows it merely linked
to (a department that already existed) stay, and a row it created that something made since
depends on (an opening someone added to a migrated department, a recording uploaded to a migrated
interview) is kept and listed. Derived data goes with its owner: media outputs and later analysis
reports of a migrated recording, tags a tagger gave a migrated candidate. Merges are undone (the
fields a duplicate filled in are restored), the journal items of the run are deleted, so a later
run migrates those records afresh. Runs are rolled back newest first.

The media jobs of removed recordings are deleted with them (and taken out of Redis when it is
reachable). Stored objects (recording originals and their media, documents) are deleted after the
database commit; the list is kept in the run's report until they are gone, so a rollback cut off at that
point finishes when run again.
"""

from __future__ import annotations

import json
import logging

import peewee as pw

from talentreel.server import audit
from talentreel.server import models as m
from talentreel.server.errors import NotFound, ValidationError
from talentreel.server.recordings import MEDIA_JOB

from . import journal

log = logging.getLogger("talentreel.migrators")

TABLES = {model._meta.table_name: model for model in m.ALL_MODELS}

KEEP_IF_REFERENCED = {
    "department": ((m.Opening, "department"), (m.UserDepartment, "department")),
    "opening": ((m.Application, "opening"), (m.Interview, "opening")),
    "tag": ((m.CandidateTag, "tag"),),
    "candidate": ((m.Interview, "candidate"), (m.Application, "candidate"), (m.Grant, "candidate"), (m.Recording, "candidate"),
                  (m.CandidateNote, "candidate"), (m.CandidateDocument, "candidate")),
    "user": ((m.InterviewInterviewer, "user"), (m.Grant, "user")),
    "interview": ((m.Recording, "interview"),),
}
"""Rows of these tables that a run created are kept when rows the run did not create refer to
them (the run's own rows are deleted first, so whatever still refers to them is someone else's)."""


def rollback(state, run_id: int, *, actor: m.User | None = None) -> dict:
    run = m.MigrationRun.get_or_none(m.MigrationRun.id == run_id)
    if run is None:
        raise NotFound(f"no migration run {run_id}")
    if run.state == "rolled_back":
        summary = (run.report or {}).get("rollback", {})
        _delete_objects(state, run, summary)
        return summary
    if run.owner and journal.owner_alive(run):
        raise ValidationError(f"run {run.id} is being worked on by {run.owner}; stop it before rolling it back")
    later = [r.id for r in journal.runs_after(run)
             if m.MigrationItem.select().where((m.MigrationItem.run == r) & (m.MigrationItem.state != "rejected")).exists()]
    if later:
        raise ValidationError(f"run {run.id} cannot be rolled back before the later run(s) {', '.join(map(str, later))} "
                              "of the same source that migrated records: roll those back first")
    database = m.MigrationItem._meta.database
    deleted: dict[str, int] = {}
    kept: list[dict] = []
    objects: list[str] = []
    jobs_to_drop: list[str] = []
    with database.atomic():
        items = list(m.MigrationItem.select().where(m.MigrationItem.run == run).order_by(m.MigrationItem.id.desc()))
        for item in items:
            data = item.data or {}
            if item.state == "merged":
                _restore_filled(item)
            for table, row_id in reversed(data.get("rows", [])):
                deleted[table] = deleted.get(table, 0) + _delete_row(state, table, row_id, objects, jobs_to_drop)
            if item.state != "created" or item.target_table is None:
                continue
            users = _foreign_references(item.target_table, item.target_id)
            if users:
                kept.append({"table": item.target_table, "id": item.target_id, "kind": item.kind, "legacy_id": item.legacy_id,
                             "referenced_by": users})
                continue
            deleted[item.target_table] = deleted.get(item.target_table, 0) + _delete_row(state, item.target_table, item.target_id, objects, jobs_to_drop)
        # Recordings an interrupted attempt stored but never journaled.
        journaled = m.MigrationItem.select(m.MigrationItem.target_id).where(
            (m.MigrationItem.source == run.kind) & (m.MigrationItem.kind == "recording") & (m.MigrationItem.run != run))
        if run.state != "done":
            for recording in m.Recording.select(m.Recording.id).where(m.Recording.source_ref.startswith(f"{run.kind}:")
                                                                      & m.Recording.id.not_in(journaled)):
                deleted["recording"] = deleted.get("recording", 0) + _delete_row(state, "recording", recording.id, objects, jobs_to_drop)
        m.MigrationItem.delete().where(m.MigrationItem.run == run).execute()
        summary = {"deleted": dict(sorted(deleted.items())), "kept": kept, "objects": objects, "objects_deleted": False,
                   "items": len(items)}
        report = dict(run.report or {}, rollback=summary)
        m.MigrationRun.update(state="rolled_back", rolled_back_at=m.utcnow(), owner=None, report=report).where(m.MigrationRun.id == run.id).execute()
        audit.record("migration.rollback", run, actor=actor, details={"deleted": summary["deleted"], "kept": len(kept)})
    run = m.MigrationRun.get_by_id(run.id)
    _drop_queued_jobs(state, jobs_to_drop)
    _delete_objects(state, run, summary)
    return summary


def _drop_queued_jobs(state, job_ids: list[str]) -> None:
    """Best effort: take the removed recordings' media jobs out of Redis too (a job left there
    would fail harmlessly, finding no recording)."""
    if not job_ids:
        return
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from talentreel.server import jobs
    from talentreel.server.errors import InstanceNotRunning, QueueUnavailable

    try:
        conn = jobs.connect(state.settings)
    except (QueueUnavailable, InstanceNotRunning):
        return
    for job_id in job_ids:
        try:
            Job.fetch(job_id, connection=conn).delete()
        except NoSuchJobError:
            pass
        except Exception as exc:  # Redis trouble must not fail a rollback that has committed
            log.warning("could not remove queued job %s: %s", job_id, exc)


def _restore_filled(item: m.MigrationItem) -> None:
    filled = (item.data or {}).get("filled") or {}
    survivor = m.Candidate.get_or_none(m.Candidate.id == item.target_id)
    if survivor is None or not filled:
        return
    for name, previous in filled.items():
        setattr(survivor, name, previous)
    survivor.save()


def _foreign_references(table: str, row_id: int) -> list[dict]:
    found = []
    for model, field in KEEP_IF_REFERENCED.get(table, ()):
        count = model.select().where(getattr(model, field) == row_id).count()
        if count:
            found.append({"table": model._meta.table_name, "rows": count})
    return found


def _delete_row(state, table: str, row_id: int, objects: list[str], jobs_to_drop: list[str]) -> int:
    model = TABLES[table]
    row = model.get_or_none(model.id == row_id)
    if row is None:
        return 0
    if table == "recording":
        prefix = f"recordings/{row_id}/"
        objects.extend(sorted(set(state.storage.keys(prefix)) - set(objects)))
        m.DataKey.delete().where(m.DataKey.object_key.startswith(prefix)).execute()
        args = pw.Value(json.dumps([row_id]), converter=False)
        work = m.WorkItem.select().where((m.WorkItem.func == MEDIA_JOB) & (m.WorkItem.args == args))
        jobs_to_drop.extend(w.rq_job_id for w in work)
        m.WorkItem.delete().where(m.WorkItem.id.in_([w.id for w in work])).execute()
    elif table == "candidate_document":
        objects.append(row.object_key)
        m.DataKey.delete().where(m.DataKey.object_key == row.object_key).execute()
    row.delete_instance()
    return 1


def _delete_objects(state, run: m.MigrationRun, summary: dict) -> None:
    if summary.get("objects_deleted") or not summary.get("objects"):
        return
    for key in summary["objects"]:
        try:
            state.storage.delete(key)
        except FileNotFoundError:
            pass
    summary["objects_deleted"] = True
    report = dict(run.report or {}, rollback=summary)
    m.MigrationRun.update(report=report).where(m.MigrationRun.id == run.id).execute()
