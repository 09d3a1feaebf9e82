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
        worker = Worker(list(queues), connection=conn)
        return worker.work(burst=burst, logging_level=settings["log_level"], with_scheduler=not burst)
    finally:
        stop.set()
