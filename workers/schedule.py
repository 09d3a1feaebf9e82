"""Housekeeping on a timetable, queued like any other work.

Each worker checks the timetable when it reconciles (every minute); a job is queued when its last
run started longer ago than its interval and none is waiting. The database decides, so several
workers never queue the same housekeeping twice, and the reconciler's Redis lock keeps them from
checking at the same moment.
"""

from __future__ import annotations

import datetime as dt

from talentreel.server import jobs
from talentreel.server import models as m

TIMETABLE = (
    ("talentreel.workers.maintenance.prune_sessions", dt.timedelta(days=1)),
    ("talentreel.workers.maintenance.finish_interrupted_puts", dt.timedelta(hours=1)),
    ("talentreel.workers.maintenance.prune_pool_changes", dt.timedelta(hours=1)),
    ("talentreel.workers.maintenance.remove_abandoned_uploads", dt.timedelta(hours=1)),
    ("talentreel.workers.maintenance.move_cold_recordings", dt.timedelta(days=1)),
    ("talentreel.workers.analysis.reanalyse_outdated", dt.timedelta(hours=6)),
    ("talentreel.workers.calibration.calibrate_all", dt.timedelta(days=1)),
    ("talentreel.workers.maintenance.run_backup", dt.timedelta(days=1)),
    ("talentreel.workers.maintenance.retention_sweep", dt.timedelta(days=1)),
    ("talentreel.workers.maintenance.access_review_snapshot", dt.timedelta(days=91)),
)
"""(job, interval): what keeps an instance tidy."""


def due(now: dt.datetime | None = None) -> list[str]:
    now = now or m.utcnow()
    waiting = {i.func for i in m.WorkItem.select(m.WorkItem.func).where(m.WorkItem.state.in_(("pending", "running")))}
    result = []
    for func, interval in TIMETABLE:
        if func in waiting:
            continue
        last = m.WorkItem.select(m.WorkItem.created_at).where(m.WorkItem.func == func).order_by(m.WorkItem.id.desc()).first()
        if last is None or now - last.created_at >= interval:
            result.append(func)
    return result


def queue_due(settings, conn) -> list[str]:
    """Queue every housekeeping job that is due; return their names."""
    queued = due()
    for func in queued:
        jobs.enqueue(settings, "maintenance", func, conn=conn)
    return queued
