"""Monitoring: the `/metrics` endpoint, the player's beacon, and what Prometheus and Grafana read.

- metrics.py: the metrics the web processes record as things happen (media time to first byte,
  player startup time, playback sessions and errors, rejected beacons).
- multiprocess.py: prometheus-client's multiprocess mode for gunicorn's workers (a directory under
  the data directory, emptied when `talentreel up`/`web` start; dead workers' gauges dropped).
- jobstats.py: job durations, failures and the analysis real-time factor, counted in Redis by the
  RQ work horses (other processes, maybe other machines) and read back at scrape time.
- collector.py: figures computed at scrape time from the database, Redis and the disk (queue depth,
  work items per state, storage per tier, migration progress, backup age, free disk).
- backup.py: the contract through which backups report their last success.
- views.py: `/metrics` (loopback or `metrics_token` only) and the beacon endpoint.
- dashboard.json, alerts.yml, alerts_test.yml, alerts_backup_test.yml, prometheus.yml: Grafana and
  Prometheus files.
"""

from __future__ import annotations


def init_app(app) -> None:
    """Register the monitoring endpoints on the application."""
    from .views import init_app as register

    register(app)
