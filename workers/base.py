"""What every job shares: the worker's application, the WorkItem bookkeeping and progress.

The worker process builds the application once (`set_app`); RQ forks a work horse per job, which
inherits it, so configuration, plugins and any models a plugin loaded at start-up are not rebuilt
per job. The `job` decorator opens the database for the job, records the attempt, the outcome and
the error on the WorkItem, and closes the connection again.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from rq import get_current_job

log = logging.getLogger("talentreel.workers")

_app = None
_connections_pid = None  # the process whose database connections the app's state describes


def set_app(app) -> None:
    global _app, _connections_pid
    _app = app
    _connections_pid = os.getpid()


def _forget_inherited_connections(database) -> None:
    """In a forked work horse, drop (without closing) connections inherited from the parent:
    closing them would close the parent's sockets, using them would interleave two processes'
    traffic on one connection. The child then opens its own."""
    global _connections_pid
    if _connections_pid == os.getpid():
        return
    if hasattr(database, "_in_use"):  # playhouse pool
        database._connections = []
        database._in_use = {}
    database._state.reset()
    _connections_pid = os.getpid()


def get_app():
    """The worker's application; built from the environment if the process did not set one."""
    global _app
    if _app is None:
        from talentreel.server import create_app

        set_app(create_app(migrate=False))
    return _app


def settings():
    return get_app().extensions["talentreel"].settings


class JobCancelled(Exception):
    """Raised by a job that stopped because someone cancelled it: recorded, never retried."""


def report_progress(fraction: float, message: str = "") -> None:
    """Publish progress (0..1) on the RQ job and the WorkItem, for the UI's live progress."""
    from talentreel.server import models as m

    progress = {"fraction": round(max(0.0, min(1.0, fraction)), 4), "message": message}
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = progress
        job.save_meta()
        work_id = job.meta.get("work_id")
        if work_id:
            m.WorkItem.update(progress=progress, updated_at=m.utcnow()).where(m.WorkItem.id == work_id).execute()


def job(func):
    """Mark a function as a TalentReel job (see module docstring)."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        from talentreel.server import models as m

        app = get_app()
        database = app.extensions["talentreel"].database
        rq_job = get_current_job()
        work_id = rq_job.meta.get("work_id") if rq_job is not None else None
        _forget_inherited_connections(database)
        with app.app_context():
            opened_here = database.is_closed()  # a caller in this process (the demo) may hold one open
            database.connect(reuse_if_open=True)
            try:
                if work_id and m.WorkItem.select().where((m.WorkItem.id == work_id) & (m.WorkItem.state == "cancelled")).exists():
                    return None  # cancelled while it waited in the queue
                if work_id:
                    m.WorkItem.update(state="running", attempts=m.WorkItem.attempts + 1, updated_at=m.utcnow()).where(m.WorkItem.id == work_id).execute()
                started = time.monotonic()
                try:
                    result = func(*args, **kwargs)
                except JobCancelled as exc:
                    _record_attempt(rq_job, started, "cancelled")
                    if work_id:
                        m.WorkItem.update(state="cancelled", error=str(exc) or "cancelled", updated_at=m.utcnow()).where(m.WorkItem.id == work_id).execute()
                    return None
                except Exception as exc:
                    _record_attempt(rq_job, started, "failed")
                    if work_id:
                        retries_left = getattr(rq_job, "retries_left", None) or 0
                        m.WorkItem.update(
                            state="pending" if retries_left > 0 else "failed",
                            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:8000],
                            updated_at=m.utcnow(),
                        ).where(m.WorkItem.id == work_id).execute()
                    raise
                _record_attempt(rq_job, started, "done")
                if work_id:
                    m.WorkItem.update(state="done", error=None, result=result if _jsonable(result) else None,
                                      updated_at=m.utcnow()).where(m.WorkItem.id == work_id).execute()
                return result
            finally:
                if opened_here and not database.is_closed():
                    database.close()

    run.is_talentreel_job = True
    return run


def scratch_dir(kind: str, recording_id: int):
    """A private temporary directory for one job attempt, named after the process that owns it.

    A work horse killed outright (kill -9, the OOM killer) never runs its `finally`, so its
    directory, holding a decrypted copy of a recording, would stay on disk for good (found by
    the worker-kill drill). Each new attempt first removes the directories of processes that no
    longer exist."""
    base = Path(tempfile.gettempdir())
    owned = re.compile(r"^talentreel-(media|pictures|analysis)-\d+-(\d+)-")
    for leftover in base.glob("talentreel-*-*-*-*"):
        found = owned.match(leftover.name)
        if found and leftover.is_dir() and not _alive(int(found.group(2))):
            shutil.rmtree(leftover, ignore_errors=True)
            log.warning("removed %s, left by a killed job", leftover)
    return Path(tempfile.mkdtemp(prefix=f"talentreel-{kind}-{recording_id}-{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


def _record_attempt(rq_job, started: float, outcome: str) -> None:
    """Count the attempt for /metrics (monitoring/jobstats.py), in the Redis the job came from."""
    if rq_job is None:
        return  # called directly (tests, the demo): not a queued job
    from talentreel.monitoring import jobstats

    jobstats.record_job(rq_job.connection, rq_job.origin, time.monotonic() - started, outcome)


def current_redis():
    """The Redis connection of the job being run, or None outside a job."""
    rq_job = get_current_job()
    return rq_job.connection if rq_job is not None else None


def _jsonable(value) -> bool:
    import json

    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
