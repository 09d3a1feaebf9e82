"""What monitoring costs: recording a media request's time to first byte, and one scrape.

- Observing a histogram value in gunicorn's multiprocess mode (memory-mapped files shared by the
  workers, what `talentreel web` uses) against the same observation in one process's memory
  (prometheus-client's default): the price of correct figures with several workers, paid on every
  media request.
- A full `/metrics` scrape (the multiprocess files of two workers, the database, Redis and disk
  read at scrape time) against `/-/health` (one database round trip), in-process with Flask's
  test client so that only TalentReel's own work is timed.

Each side runs in a fresh Python process: prometheus-client picks its storage when imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

from common import log

OBSERVATIONS = 200_000
QUICK_OBSERVATIONS = 20_000
SCRAPES = 200
QUICK_SCRAPES = 20
TARGET_OBSERVE_RATIO = 4.0
"""Sharing the value between workers may cost at most 4 times keeping it in memory (a few
microseconds either way, against the milliseconds a media request takes)."""
TARGET_SCRAPE_RATIO = 10.0
"""A scrape reads the database several times, Redis and the disk: at most 10 times a health
check's single round trip, so a scrape every 15 s is not felt."""

OBSERVE = textwrap.dedent('''
    import json, os, sys, time
    from prometheus_client import Histogram
    h = Histogram("bench_seconds", "bench", ["file"], buckets=(0.001, 0.01, 0.1, 1, 10))
    child = h.labels("video.mp4")
    n = int(sys.argv[1])
    started = time.perf_counter()
    for i in range(n):
        child.observe((i % 100) / 1000)
    print(json.dumps({"us": (time.perf_counter() - started) / n * 1e6}))
''')

SCRAPE = textwrap.dedent('''
    import json, os, sys, time
    data_dir, redis_url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from talentreel.server.config import load_settings
    from talentreel.monitoring import multiprocess
    settings = {"data_dir": data_dir, "redis_url": redis_url, "log_level": "WARNING"}
    multiprocess.prepare(load_settings(settings))
    from talentreel.server import create_app
    app = create_app(settings)
    from talentreel.monitoring import metrics
    # Two workers' worth of values in the shared directory, as after some traffic.
    import prometheus_client.values as values
    for pid in (101, 102):
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda pid=pid: pid)
        metrics.media_ttfb.clear()  # new children, written to this "worker's" files
        for name in ("video.mp4", "poster.jpg", "sprite.jpg", "sprite.json"):
            metrics.media_ttfb.labels(name).observe(0.01)
    client = app.test_client()
    def timed(path):
        client.get(path)
        started = time.perf_counter()
        for _ in range(n):
            assert client.get(path).status_code == 200
        return (time.perf_counter() - started) / n * 1000
    print(json.dumps({"scrape_ms": timed("/metrics"), "health_ms": timed("/-/health"),
                      "bytes": len(client.get("/metrics").data)}))
''')


def _python(code: str, *args: str, env=None) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(ctx) -> dict:
    n = QUICK_OBSERVATIONS if ctx.quick else OBSERVATIONS
    scrapes = QUICK_SCRAPES if ctx.quick else SCRAPES
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    log("histogram observe, in memory")
    memory = _python(OBSERVE, str(n), env=env)["us"]
    with tempfile.TemporaryDirectory() as directory:
        log("histogram observe, multiprocess files")
        shared = _python(OBSERVE, str(n), env=dict(env, PROMETHEUS_MULTIPROC_DIR=directory))["us"]
    with tempfile.TemporaryDirectory() as data_dir:
        log("/metrics scrape vs /-/health")
        redis_url = os.environ.get("TALENTREEL_BENCH_REDIS", "redis://127.0.0.1:6379/9")
        scrape = _python(SCRAPE, data_dir, redis_url, str(scrapes), env=env)
    return {
        "observe_memory_us": round(memory, 3), "observe_multiprocess_us": round(shared, 3),
        "observe_ratio": round(shared / memory, 2),
        "scrape_ms": round(scrape["scrape_ms"], 2), "health_ms": round(scrape["health_ms"], 2),
        "scrape_ratio": round(scrape["scrape_ms"] / scrape["health_ms"], 1), "scrape_bytes": scrape["bytes"],
        "targets": [
            {"target": f"TTFB observation, multiprocess <= {TARGET_OBSERVE_RATIO:g}x in memory",
             "value": f"{shared / memory:.2f}x ({shared:.2f} us)", "met": shared / memory <= TARGET_OBSERVE_RATIO},
            {"target": f"/metrics scrape <= {TARGET_SCRAPE_RATIO:g}x /-/health",
             "value": f"{scrape['scrape_ms'] / scrape['health_ms']:.1f}x ({scrape['scrape_ms']:.1f} ms)",
             "met": scrape["scrape_ms"] / scrape["health_ms"] <= TARGET_SCRAPE_RATIO},
        ],
    }


def report(f: dict) -> list[str]:
    return [
        "| measure | TalentReel | reference | ratio |",
        "|---|---|---|---|",
        f"| histogram observe (TTFB per media request) | {f['observe_multiprocess_us']} us (multiprocess files) | "
        f"{f['observe_memory_us']} us (in memory) | {f['observe_ratio']}x |",
        f"| one request, in-process | {f['scrape_ms']} ms (`/metrics`, {f['scrape_bytes']} bytes) | "
        f"{f['health_ms']} ms (`/-/health`) | {f['scrape_ratio']}x |",
    ]
