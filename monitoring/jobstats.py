"""Job durations, outcomes and the analysis real-time factor, counted in Redis.

Jobs run in RQ work horses: one short-lived process per job, possibly on another machine than the
web server. A per-process metrics file per job would pile up by the thousand, so the horse adds its
figures to a few Redis hashes instead (one round trip at the end of a job) and `/metrics` turns them
into histograms and counters at scrape time. Counts restart from zero if Redis is flushed; Prometheus'
rate() and increase() treat that as a counter reset.

Hash layout (one hash per histogram and label value): field `count`, `sum`, and `le:<bound>` holding
the cumulative count of observations <= bound (Prometheus' bucket semantics, +Inf is `count`).
"""

from __future__ import annotations

import logging

log = logging.getLogger("talentreel.monitoring")

PREFIX = "talentreel:monitoring:"
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
RTF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8)
OUTCOMES = ("done", "failed", "cancelled")


def duration_key(queue: str) -> str:
    return f"{PREFIX}job-duration:{queue}"


def outcome_key(queue: str) -> str:
    return f"{PREFIX}job-outcomes:{queue}"


RTF_KEY = PREFIX + "analysis-rtf"


def _observe(pipe, key: str, buckets, value: float) -> None:
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", value)
    for bound in buckets:
        if value <= bound:
            pipe.hincrby(key, f"le:{bound}", 1)


def record_job(conn, queue: str, seconds: float, outcome: str) -> None:
    """A job attempt ended: `outcome` is done, failed (raised; it may be retried) or cancelled."""
    try:
        pipe = conn.pipeline(transaction=False)
        _observe(pipe, duration_key(queue), DURATION_BUCKETS, max(0.0, seconds))
        pipe.hincrby(outcome_key(queue), outcome, 1)
        pipe.execute()
    except Exception as exc:  # a metric must never turn a finished job into a failed one
        log.warning("could not record job metrics for queue %s: %s", queue, exc)


def record_analysis_rtf(conn, processing_seconds: float, media_seconds: float) -> None:
    """Analysis took processing_seconds for media_seconds of recording; ratio < 1 is faster than real time."""
    if not media_seconds or media_seconds <= 0:
        return  # unknown duration: no meaningful ratio
    try:
        pipe = conn.pipeline(transaction=False)
        _observe(pipe, RTF_KEY, RTF_BUCKETS, processing_seconds / media_seconds)
        pipe.execute()
    except Exception as exc:
        log.warning("could not record the analysis real-time factor: %s", exc)


def read_histogram(conn, key: str, buckets) -> tuple[list[tuple[str, float]], float] | None:
    """([(le, cumulative count), ..., ("+Inf", count)], sum) of one hash, or None when empty."""
    raw = conn.hgetall(key)
    if not raw:
        return None
    fields = {k.decode(): float(v) for k, v in raw.items()}
    count = fields.get("count", 0.0)
    series = [(str(float(b)), fields.get(f"le:{b}", 0.0)) for b in buckets]
    series.append(("+Inf", count))
    return series, fields.get("sum", 0.0)


def read_outcomes(conn, queue: str) -> dict[str, float]:
    raw = conn.hgetall(outcome_key(queue))
    return {k.decode(): float(v) for k, v in raw.items()}
