"""Backup age, as the `talentreel_backup_last_success_timestamp_seconds` gauge.

Contract with the backup code (issue 8, part 2), either or both:

- after a backup finished and was verified, it calls
  ``record_backup_success(app, finished_at)`` (``finished_at``: an aware or UTC-naive datetime);
  the time is kept in Redis under ``BACKUP_KEY`` (all web processes and machines see it);
- or it records its runs in the ``BackupRun`` model (server/models.py, server/backups/): the
  newest row whose ``status`` is "succeeded" counts (a run is marked so once its manifest is
  written).

The gauge shows the newest of the two, and is absent while no backup ever succeeded (the alert
rule treats an absent series as "no backup", see alerts.yml).
"""

from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger("talentreel.monitoring")

BACKUP_KEY = "talentreel:monitoring:backup-last-success"


def _epoch(when: dt.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)  # the models store UTC without a zone
    return when.timestamp()


def record_backup_success(app, finished_at: dt.datetime) -> None:
    """Called by the backup code when a backup succeeded. Keeps the newest time only."""
    from talentreel.server import jobs

    conn = jobs.connect(app.extensions["talentreel"].settings)
    stamp = _epoch(finished_at)
    # Compare-and-set in a Lua script: a slow backup finishing late never hides a newer one.
    conn.eval("local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
              "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end return 1", 1, BACKUP_KEY, repr(stamp))


def last_success(conn=None) -> float | None:
    """Seconds since the epoch of the newest successful backup, or None."""
    from talentreel.server import models as m

    found = []
    row = (m.BackupRun.select(m.BackupRun.finished_at)
           .where((m.BackupRun.status == "succeeded") & m.BackupRun.finished_at.is_null(False))
           .order_by(m.BackupRun.finished_at.desc()).first())
    if row is not None:
        found.append(_epoch(row.finished_at))
    if conn is not None:
        raw = conn.get(BACKUP_KEY)
        if raw:
            found.append(float(raw))
    return max(found) if found else None
