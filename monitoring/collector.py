"""Figures computed when Prometheus scrapes, from the database, Redis and the disk.

Queue depth, work items per state, storage per tier, migration progress, backup age and free disk
are states, not events: reading them at scrape time is exact whichever process changed them (web,
worker, CLI, another machine), and needs nothing shared between processes. Each part is read on its
own; a part whose source is down is reported by `talentreel_monitoring_source_up` and left out,
so a database outage still leaves a scrape with the rest (and the alert on the outage itself).
"""

from __future__ import annotations

import logging
import shutil

import peewee as pw
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from talentreel.server import defaults

from . import backup, jobstats

log = logging.getLogger("talentreel.monitoring")


class TalentReelCollector:
    """A prometheus-client collector over one application's state (see module docstring)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        state = self.app.extensions["talentreel"]
        up = GaugeMetricFamily("talentreel_monitoring_source_up", "Whether the scrape could read a source (1) or not (0).",
                               labels=["source"])
        conn = self._redis(state.settings)
        up.add_metric(["redis"], 1 if conn is not None else 0)
        families = []
        try:
            families += self._database(state, conn)
            up.add_metric(["database"], 1)
        except (pw.OperationalError, pw.InterfaceError) as exc:
            log.warning("metrics: database not readable: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            up.add_metric(["database"], 0)
        if conn is not None:
            try:
                families += self._queues(conn)
            except Exception as exc:  # Redis went away between ping and read
                log.warning("metrics: Redis not readable: %s", exc)
        families += self._disks(state.settings)
        yield up
        yield from families

    @staticmethod
    def _redis(settings):
        from talentreel.server import jobs

        try:
            return jobs.connect(settings)
        except Exception as exc:  # not configured, not running, unreachable: all "down" here
            log.info("metrics: no Redis: %s", exc)
            return None

    def _database(self, state, conn) -> list:
        from talentreel.server import models as m

        with state.database.connection_context():
            items = GaugeMetricFamily("talentreel_work_items", "Work items in the database by queue and state.", labels=["queue", "state"])
            counts = {(q, s): 0 for q in defaults.QUEUES for s in m.WORK_STATES}
            for row in (m.WorkItem.select(m.WorkItem.queue, m.WorkItem.state, pw.fn.COUNT(m.WorkItem.id).alias("n"))
                        .group_by(m.WorkItem.queue, m.WorkItem.state).tuples()):
                counts[(row[0], row[1])] = row[2]
            for (queue, work_state), n in sorted(counts.items()):
                items.add_metric([queue, work_state], n)

            storage = GaugeMetricFamily("talentreel_storage_bytes", "Bytes of recordings (as uploaded) per storage tier.", labels=["tier"])
            recordings = GaugeMetricFamily("talentreel_recordings", "Recordings per storage tier.", labels=["tier"])
            per_tier = {"hot": (0, 0), "cold": (0, 0)}
            for tier, size, n in (m.Recording.select(m.Recording.tier, pw.fn.COALESCE(pw.fn.SUM(m.Recording.size_bytes), 0),
                                                     pw.fn.COUNT(m.Recording.id)).group_by(m.Recording.tier).tuples()):
                per_tier[tier] = (int(size), n)
            for tier, (size, n) in sorted(per_tier.items()):
                storage.add_metric([tier], size)
                recordings.add_metric([tier], n)

            runs = GaugeMetricFamily("talentreel_migration_runs", "Migration runs by state.", labels=["state"])
            run_counts = dict.fromkeys(m.MIGRATION_RUN_STATES, 0)
            for run_state, n in (m.MigrationRun.select(m.MigrationRun.state, pw.fn.COUNT(m.MigrationRun.id))
                                 .group_by(m.MigrationRun.state).tuples()):
                run_counts[run_state] = n
            for run_state, n in run_counts.items():
                runs.add_metric([run_state], n)
            progress = GaugeMetricFamily("talentreel_migration_progress_ratio",
                                         "Progress (0..1) of each running migration run, from its journal heartbeat.",
                                         labels=["run", "kind", "phase"])
            done = GaugeMetricFamily("talentreel_migration_records_done", "Records a running migration run has handled.",
                                     labels=["run", "kind"])
            for run in m.MigrationRun.select().where(m.MigrationRun.state == "running"):
                info = run.progress or {}
                total, handled = info.get("total") or 0, info.get("done") or 0
                if isinstance(total, (int, float)) and isinstance(handled, (int, float)):
                    done.add_metric([str(run.id), run.kind], handled)
                    if total > 0:
                        progress.add_metric([str(run.id), run.kind, str(info.get("phase", ""))], min(1.0, handled / total))
            journal = GaugeMetricFamily("talentreel_migration_items", "Migration journal entries by outcome.", labels=["state"])
            for item_state, n in (m.MigrationItem.select(m.MigrationItem.state, pw.fn.COUNT(m.MigrationItem.id))
                                  .group_by(m.MigrationItem.state).tuples()):
                journal.add_metric([item_state], n)

            families = [items, storage, recordings, runs, progress, done, journal]
            stamp = backup.last_success(conn)
            if stamp is not None:
                last = GaugeMetricFamily("talentreel_backup_last_success_timestamp_seconds",
                                         "When the newest successful backup finished (seconds since the epoch).")
                last.add_metric([], stamp)
                families.append(last)
            return families

    @staticmethod
    def _queues(conn) -> list:
        from talentreel.server import jobs

        depth = GaugeMetricFamily("talentreel_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        for queue, n in jobs.queue_depths(conn).items():
            depth.add_metric([queue], n)
        durations = HistogramMetricFamily("talentreel_job_duration_seconds", "Duration of job attempts per queue.", labels=["queue"])
        outcomes = CounterMetricFamily("talentreel_job_attempts", "Job attempts per queue by outcome (failed attempts may be retried).",
                                       labels=["queue", "outcome"])
        for queue in defaults.QUEUES:
            histogram = jobstats.read_histogram(conn, jobstats.duration_key(queue), jobstats.DURATION_BUCKETS)
            if histogram is not None:
                durations.add_metric([queue], *histogram)
            seen = jobstats.read_outcomes(conn, queue)
            for outcome in jobstats.OUTCOMES:
                outcomes.add_metric([queue, outcome], seen.get(outcome, 0.0))
        families = [depth, durations, outcomes]
        rtf = jobstats.read_histogram(conn, jobstats.RTF_KEY, jobstats.RTF_BUCKETS)
        if rtf is not None:
            metric = HistogramMetricFamily("talentreel_analysis_realtime_factor",
                                           "Analysis processing time divided by the recording's duration (below 1: faster than real time).")
            metric.add_metric([], *rtf)
            families.append(metric)
        return families

    @staticmethod
    def _disks(settings) -> list:
        free = GaugeMetricFamily("talentreel_disk_free_bytes", "Free bytes on the file system of each directory TalentReel writes.",
                                 labels=["path", "role"])
        size = GaugeMetricFamily("talentreel_disk_size_bytes", "Size in bytes of the file system of each directory TalentReel writes.",
                                 labels=["path", "role"])
        places = [("data", settings["data_dir"])]
        if settings["storage_backend"] == "local":
            places.append(("storage", settings["storage_path"]))
            if settings["storage_cold_path"]:
                places.append(("storage_cold", settings["storage_cold_path"]))
        for role, path in places:
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue  # not created yet: nothing stored there
            free.add_metric([path, role], usage.free)
            size.add_metric([path, role], usage.total)
        return [free, size]
