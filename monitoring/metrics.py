"""Metrics recorded by the web processes as requests happen.

Imported by the application factory, after `multiprocess.prepare()` when gunicorn runs several
workers: prometheus-client decides per metric value whether it lives in memory or in the shared
directory when the value is created. Names carry the unit (Prometheus conventions).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds; a player starting within 5 s is the alert's line, so the buckets are finest below it.
STARTUP_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 30, 60)
TTFB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

media_ttfb = Histogram(
    "talentreel_media_ttfb_seconds",
    "Server-side time from a media request's arrival in the view to its first body byte.",
    ["file"], buckets=TTFB_BUCKETS)

player_startup = Histogram(
    "talentreel_player_startup_seconds",
    "Time from the viewer pressing play to the first frame playing, as the player reports it.",
    buckets=STARTUP_BUCKETS)

playback_sessions = Counter(
    "talentreel_playback_sessions_total",
    "Playback sessions by outcome reported by the player: started (played) or failed (never played).",
    ["outcome"])

playback_errors = Counter(
    "talentreel_playback_errors_total",
    "Media errors the player reported, by HTML media error code.",
    ["code"])

beacons_rejected = Counter(
    "talentreel_playback_beacons_rejected_total",
    "Player beacons ignored because a value was missing, malformed or out of range.",
    ["reason"])


def prime() -> None:
    """Create the label values a dashboard expects, so series exist (at 0) before the first event."""
    for outcome in ("started", "failed"):
        playback_sessions.labels(outcome)
