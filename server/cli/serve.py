"""Serving the WSGI app with gunicorn, in the embedded `up` and in production `web` alike."""

from __future__ import annotations

import gc

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """gunicorn around an already-built app (configuration errors surface before forking)."""

    def __init__(self, app, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(app, host: str, port: int, workers: int, threads: int, on_ready=None) -> None:
    database = app.extensions["talentreel"].database
    from ..pool import postings

    # A long-running server answers tag searches from memory (pool/postings.py); each worker
    # loads its own copy on its first search, after the fork.
    postings.enable(bool(app.extensions["talentreel"].settings["pool_memory_index"]))
    # Connections must not cross a fork: close (and for pools, drop) them before gunicorn forks.
    if not database.is_closed():
        database.close()
    if hasattr(database, "close_all"):
        database.close_all()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 20,
        "accesslog": None,  # media URLs carry tokens: never log request lines by default
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "talentreel-web",
    }
    from talentreel.monitoring import multiprocess

    if multiprocess.enabled():
        options["child_exit"] = multiprocess.worker_exited  # drop a dead worker's live gauges
    if on_ready is not None:
        options["when_ready"] = lambda server: on_ready()
    # Everything built so far (the app, its modules, plugins: some 85,000 objects) lives as long as
    # the workers do. Frozen before the fork, the workers' collector never walks it again: a full
    # collection over it took 38 ms in the middle of a search (a p95 of its own), and walking it
    # would also touch, and so copy, every page the workers share with this process.
    gc.freeze()
    GunicornServer(app, options).run()
