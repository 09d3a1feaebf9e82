"""The worker entry point behind `talentreel worker`.

One RQ worker listening on the given queues in priority order. Before working and then every
RECONCILE_INTERVAL_SECONDS it runs the reconciler, so work that Redis lost (a flush, a restart
without persistence) is queued again without anyone noticing.
"""

from __future__ import annotations

import logging
import threading

from rq import Worker

from talentreel.server import defaults, jobs

from . import base

log = logging.getLogger("talentreel.workers")


def reconcile_once(app, conn) -> list[int]:
    """Re-queue lost work, then queue housekeeping that is due."""
    from . import schedule

    database = app.extensions["talentreel"].database
    settings = app.extensions["talentreel"].settings
    with database.connection_context():
        requeued = jobs.reconcile(settings, conn)
        schedule.queue_due(settings, conn)
        return requeued


def _reconcile_forever(app, conn, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            reconcile_once(app, conn)
        except Exception:  # the worker must keep working when Redis or the database blips
            log.exception("reconciler pass failed; will try again")


def run_worker(app, queues=defaults.QUEUES, burst: bool = False, reconcile_interval: float = defaults.RECONCILE_INTERVAL_SECONDS) -> bool:
    settings = app.extensions["talentreel"].settings
    base.set_app(app)
    conn = jobs.connect(settings)
    if "analysis" in queues:
        from .analysis import enqueue_outdated, preload_analyzers

        preload_analyzers(app)  # once, here, so every forked work horse inherits the models
        with app.extensions["talentreel"].database.connection_context():
            # An upgrade that changed an analyzer's version: its old reports are redone now.
            enqueue_outdated(app, conn)
    reconcile_once(app, conn)
    stop = threading.Event()
    if not burst and reconcile_interval > 0:
        threading.Thread(target=_reconcile_forever, args=(app, conn, stop, reconcile_interval), daemon=True, name="reconciler").start()
    try:
        while True:
            worker = _Worker(list(queues), connection=conn)
            worked = worker.work(burst=burst, logging_level=settings["log_level"], with_scheduler=not burst)
            if burst or _stop_requested(worker):
                return worked
            # RQ's worker quits (status 0) on an unexpected error, Redis going away at the wrong
            # moment among them (found by the Redis drill): under `talentreel up` nothing would
            # start it again and background work would stop for good. Wait for Redis instead,
            # put back what it lost, and work on.
            log.warning("the worker stopped unexpectedly; starting again once Redis answers")
            if not _wait_for_redis(conn, worker):
                return worked
            try:
                reconcile_once(app, conn)
            except Exception:
                log.exception("reconciler pass failed; the periodic one will try again")
    finally:
        stop.set()


class _Worker(Worker):
    """RQ's worker, remembering that it was asked to stop (SIGTERM, Ctrl-C): then `work()`
    returning is the end, not a crash to recover from."""

    stop_asked = False

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)


def _stop_requested(worker) -> bool:
    return worker.stop_asked


def _wait_for_redis(conn, worker, longest: float = 10.0) -> bool:
    """Ping until Redis answers (True) or the worker is asked to stop (False)."""
    import time

    pause = 0.5
    while not _stop_requested(worker):
        try:
            conn.ping()
            return True
        except Exception:
            time.sleep(pause)
            pause = min(longest, pause * 2)
    return False
