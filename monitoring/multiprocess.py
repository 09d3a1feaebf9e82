"""prometheus-client's multiprocess mode for the web server's worker processes.

Each gunicorn worker keeps its own counters; a scrape reaching one worker must still see them all,
so every worker writes its values to memory-mapped files in one directory, which `/metrics` reads.
`talentreel up` and `talentreel web` call `prepare()` before building the application: it empties
the directory (values of a previous run would add to this one's) and points prometheus-client at it.
gunicorn's child_exit hook calls `worker_exited()` so a dead worker's live gauges are dropped.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from talentreel.server import defaults

ENV = "PROMETHEUS_MULTIPROC_DIR"
DIRNAME = "metrics"


def directory(settings) -> Path:
    return Path(settings["data_dir"], defaults.RUN_DIRNAME, DIRNAME)


def prepare(settings) -> Path:
    """Empty the metrics directory of this instance and switch prometheus-client to it."""
    if "talentreel.monitoring.metrics" in sys.modules:
        # Values created before this point would stay in one process's memory, invisible to scrapes.
        raise RuntimeError("monitoring.multiprocess.prepare() must run before the application is built")
    path = directory(settings)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # in case prometheus_client was imported already
    return path


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def worker_exited(server, worker) -> None:
    """gunicorn child_exit hook."""
    if enabled():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
