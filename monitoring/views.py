"""`/metrics` for Prometheus and `/-/beacon/playback`, where the replay page's player reports.

Who may scrape: by default only this machine (a loopback address, reached directly: a request
carrying X-Forwarded-For / Forwarded came through a proxy and may be from anywhere), or a caller
presenting `Authorization: Bearer <metrics_token>` when that setting is set (Prometheus on another
host or container), or a signed-in user the permission hook allows `system.health`. Anyone else
gets 404, as if there were no such page.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import threading
from collections import OrderedDict

from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from talentreel.server import models as m
from talentreel.server.i18n import _
from talentreel.server.permissions import can
from talentreel.server.playback import tokens

from . import metrics, multiprocess
from .collector import TalentReelCollector

monitoring_bp = Blueprint("monitoring", __name__)

MAX_BEACON_BYTES = 2048
MAX_STARTUP_SECONDS = 600.0
"""A startup time beyond this is a tab left in the background, not a measurement."""
MEDIA_ERROR_CODES = {1: "aborted", 2: "network", 3: "decode", 4: "src_not_supported"}
"""HTMLMediaElement MediaError codes; 0 is what the page reports when it cannot tell."""
EVENTS = ("started", "failed", "error")


def init_app(app) -> None:
    from talentreel.server.app import csrf

    metrics.prime()
    app.register_blueprint(monitoring_bp)
    # Authenticated by the media token in the body, like the media endpoint; sendBeacon cannot
    # send a CSRF header, and a forged beacon needs a valid token anyway.
    csrf.exempt(beacon)


def _from_this_machine() -> bool:
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def scrape_allowed() -> bool:
    token = current_app.extensions["talentreel"].settings["metrics_token"]
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    if _from_this_machine():
        return True
    return can(getattr(g, "user", None), "system.health")


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess.enabled():
        from prometheus_client import multiprocess as mp

        mp.MultiProcessCollector(registry)  # every gunicorn worker's values, summed per metric
    else:
        registry.register(REGISTRY)  # one process: its own values, plus process and GC figures
    registry.register(TalentReelCollector(current_app))
    return registry


@monitoring_bp.get("/metrics")
def scrape():
    if not scrape_allowed():
        return Response(_("Not found."), status=404, mimetype="text/plain")
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


scrape.lazy_database = True  # the collector opens the database itself and survives it being down


class _SeenTokens:
    """Media tokens whose session outcome was counted already, so a reloaded or replayed beacon
    does not count a session twice (per process; tokens expire within hours anyway)."""

    def __init__(self, size: int = 20000):
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, token: str) -> bool:
        with self._lock:
            if token in self._seen:
                return False
            self._seen[token] = None
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True


_seen = _SeenTokens()


class BadBeacon(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _number(data: dict, name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadBeacon(name, f"'{name}' must be a number of seconds")
    return float(value)


def _parse(raw: bytes) -> tuple[str, dict, tokens.MediaGrant]:
    if len(raw) > MAX_BEACON_BYTES:
        raise BadBeacon("too_large", f"the beacon is larger than {MAX_BEACON_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadBeacon("not_json", "the beacon is not JSON") from None
    if not isinstance(data, dict):
        raise BadBeacon("not_json", "the beacon must be a JSON object")
    event = data.get("event")
    if event not in EVENTS:
        raise BadBeacon("event", f"'event' must be one of {', '.join(EVENTS)}")
    if not isinstance(data.get("token"), str):
        raise BadBeacon("token", "'token' (the media token of the replay page) is missing")
    try:
        grant = tokens.read(current_app.config["SECRET_KEY"], data["token"], max_age=tokens.TOKEN_TTL_SECONDS)
    except tokens.InvalidToken as exc:
        raise BadBeacon("token", f"'token' is not valid ({exc.reason})") from None
    if event == "started":
        seconds = _number(data, "startup_seconds")
        if not 0 <= seconds <= MAX_STARTUP_SECONDS:
            raise BadBeacon("startup_seconds", f"'startup_seconds' must be between 0 and {MAX_STARTUP_SECONDS:g}")
    else:
        code = data.get("code")
        if isinstance(code, bool) or not isinstance(code, int) or not (code == 0 or code in MEDIA_ERROR_CODES):
            raise BadBeacon("code", "'code' must be a media error code (0 to 4)")
    return event, data, grant


@monitoring_bp.post("/-/beacon/playback")
def beacon():
    """The player reports one session outcome (started with its startup time, or failed) and any
    later media error. Bad beacons are refused with the reason and counted, never recorded."""
    try:
        # Read at most one byte past the limit: a huge body is refused without being held in memory.
        event, data, grant = _parse(request.stream.read(MAX_BEACON_BYTES + 1))
        user = m.User.get_or_none(m.User.id == grant.user_id)
        recording = m.Recording.get_or_none(m.Recording.id == grant.recording_id)
        if user is None or recording is None or not can(user, "recording.play", recording):
            raise BadBeacon("access", "the token no longer gives access to this recording")
        if event in ("started", "failed") and not _seen.first_time(data["token"]):
            raise BadBeacon("duplicate", "this playback session's outcome was reported already")
    except BadBeacon as exc:
        metrics.beacons_rejected.labels(exc.reason).inc()
        return jsonify({"error": str(exc), "status": 400}), 400
    if event == "started":
        metrics.playback_sessions.labels("started").inc()
        metrics.player_startup.observe(data["startup_seconds"])
    else:
        if event == "failed":
            metrics.playback_sessions.labels("failed").inc()
        metrics.playback_errors.labels(MEDIA_ERROR_CODES.get(data["code"], "unknown")).inc()
    return Response(status=204)
