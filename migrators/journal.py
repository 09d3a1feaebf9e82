"""The migration journal: runs, and one item per legacy record, keyed by (source, kind, legacy id).

The journal is what makes a migration idempotent and resumable. Every change a run makes to the
database is committed in the same transaction as the item that records it, so after a kill -9 an
item exists exactly when its rows do; a rerun skips every item already there. The few effects
outside the database (a stored recording, a queued media job) are repaired by the next run: it
finds them through the recording's `source_ref` and the media work items.

A run belongs to one process at a time: `owner` is "host:pid" and `heartbeat_at` is refreshed as
it works. Another process may take a run over only when its owner is gone (same host: the pid no
longer exists; another host: no heartbeat for STALE_SECONDS).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Iterable

import peewee as pw

from talentreel.server import models as m

STALE_SECONDS = 300
"""A run whose owner runs on another host counts as dead after this long without a heartbeat."""

HEARTBEAT_SECONDS = 5.0
"""How often a working run refreshes its heartbeat and progress."""

DONE_STATES = ("created", "linked", "merged")
"""Item states that mean: nothing left to do for this record."""


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(run: m.MigrationRun) -> bool:
    if not run.owner:
        return False
    host, _, pid = run.owner.rpartition(":")
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError):
            return True
        return True
    if run.heartbeat_at is None:
        return False
    return (m.utcnow() - run.heartbeat_at).total_seconds() < STALE_SECONDS


def claim(run: m.MigrationRun) -> bool:
    """Take the run for this process (compare-and-set on its owner); False if someone else holds
    it and is alive."""
    if run.owner == owner_id():
        return True
    if run.owner and owner_alive(run):
        return False
    now = m.utcnow()
    owner_was = m.MigrationRun.owner.is_null() if run.owner is None else (m.MigrationRun.owner == run.owner)
    taken = (m.MigrationRun.update(owner=owner_id(), heartbeat_at=now, state="running", attempts=m.MigrationRun.attempts + 1,
                                   started_at=pw.fn.COALESCE(m.MigrationRun.started_at, now), error=None)
             .where((m.MigrationRun.id == run.id) & owner_was & m.MigrationRun.state.in_(("queued", "running", "failed")))
             .execute())
    if taken:
        fresh = m.MigrationRun.get_by_id(run.id)
        run.__data__.update(fresh.__data__)
    return bool(taken)


def release(run: m.MigrationRun, state: str, *, report: dict | None = None, error: str | None = None) -> None:
    values = {"state": state, "owner": None, "heartbeat_at": m.utcnow()}
    if state == "done":
        values["finished_at"] = m.utcnow()
    if report is not None:
        values["report"] = report
    if error is not None:
        values["error"] = error[:8000]
    m.MigrationRun.update(**values).where(m.MigrationRun.id == run.id).execute()


class Heartbeat:
    """Refreshes a run's heartbeat and progress at most every HEARTBEAT_SECONDS."""

    def __init__(self, run: m.MigrationRun, publish=None):
        self.run = run
        self.publish = publish  # e.g. workers.base.report_progress
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < HEARTBEAT_SECONDS:
            return
        self.last = now
        progress = {"phase": phase, "done": done, "total": total}
        m.MigrationRun.update(heartbeat_at=m.utcnow(), progress=progress).where(m.MigrationRun.id == self.run.id).execute()
        if self.publish is not None:
            self.publish(done / total if total else 0.0, f"{phase} {done}/{total}")


def unfinished(kind: str) -> list[m.MigrationRun]:
    return list(m.MigrationRun.select().where((m.MigrationRun.kind == kind) & m.MigrationRun.state.in_(("queued", "running", "failed")))
                .order_by(m.MigrationRun.id))


def items_of(source: str) -> dict[tuple[str, str], m.MigrationItem]:
    return {(i.kind, i.legacy_id): i for i in m.MigrationItem.select().where(m.MigrationItem.source == source)}


def created_targets(source: str, kind: str) -> set[int]:
    """Ids of rows a source's runs created for records of one kind."""
    return {i.target_id for i in m.MigrationItem.select(m.MigrationItem.target_id)
            .where((m.MigrationItem.source == source) & (m.MigrationItem.kind == kind) & (m.MigrationItem.state == "created"))}


def write(run: m.MigrationRun, source: str, kind: str, legacy_id: str, state: str, *, target: tuple[str, int] | None = None,
          reason: str | None = None, detail: str | None = None, data: dict | None = None,
          existing: m.MigrationItem | None = None) -> m.MigrationItem:
    """Record what became of a record: a new item, or the update of a rejected one retried now.
    Call it inside the transaction that made the rows it names."""
    values = dict(run=run.id, state=state, target_table=target[0] if target else None, target_id=target[1] if target else None,
                  reason=reason, detail=detail, data=data or {})
    if existing is not None:
        m.MigrationItem.update(**values).where(m.MigrationItem.id == existing.id).execute()
        existing.__data__.update(values)
        return existing
    return m.MigrationItem.create(source=source, kind=kind, legacy_id=legacy_id, **values)


def runs_after(run: m.MigrationRun) -> Iterable[m.MigrationRun]:
    return (m.MigrationRun.select().where((m.MigrationRun.kind == run.kind) & (m.MigrationRun.id > run.id)
                                          & (m.MigrationRun.state != "rolled_back")).order_by(m.MigrationRun.id))
