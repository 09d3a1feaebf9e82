"""The replay page and the media endpoint it plays from.

The page (session-authenticated) issues a media token; the video element then fetches
``/media/<token>/video.mp4`` with Range requests. The endpoint decrypts only the segments a range
touches and streams them; it never goes through ``send_file`` (under gunicorn that reads from
byte 0 to reach an offset) and never relies on the session cookie.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

import peewee as pw
from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request, session

from .. import audit
from .. import models as m
from ..auth import sessions
from ..i18n import _
from ..permissions import can, login_required
from ..recordings import has_pictures, object_key, progress_of
from . import access, links, tokens
from .ranges import Unsatisfiable, parse_range

log = logging.getLogger("talentreel.playback")

playback_bp = Blueprint("playback", __name__)
playback_bp.add_app_template_global(links.media_link, "media_link")

SERVED = {
    "video.mp4": "video/mp4",
    "poster.jpg": "image/jpeg",
    "sprite.jpg": "image/jpeg",
    "sprite.json": "application/json",
}
"""What a media token opens. The original and the analysis audio are never served to browsers."""

PLAYED_TOUCH_SECONDS = 3600
"""last_played_at (which decides hot/cold tiering) is written at most this often per recording."""

MEDIA_HEADERS = {"Cache-Control": "private, no-store", "Accept-Ranges": "bytes", "Referrer-Policy": "no-referrer"}


class _AccessCache:
    """Positive access decisions for a few seconds, per token and sign-in cookie, with the
    recording they were made for: a video makes many Range requests, and neither the full check
    (user, sign-in, permission hook) nor the recording's row need be read for each of them."""

    def __init__(self, seconds: float, size: int = 10000):
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[tuple, tuple[float, m.Recording]] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(self, key: tuple) -> m.Recording | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def remember(self, key: tuple, recording: m.Recording) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, recording)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def _cache() -> _AccessCache:
    ext = current_app.extensions.setdefault("talentreel_playback", {})
    if "cache" not in ext:
        ext["cache"] = _AccessCache(tokens.AUTH_CACHE_SECONDS)
    return ext["cache"]


def _visible_recording(recording_id: int, action: str = "recording.view") -> m.Recording:
    recording = m.Recording.get_or_none(m.Recording.id == recording_id)
    if recording is None or not can(g.user, action, recording):
        abort(404)  # a recording one may not see does not exist, as far as ids go
    return recording


def issue_token(recording: m.Recording, user: m.User) -> str:
    """A media token for the signed-in web user (see tokens.py)."""
    record = getattr(session, "record", None)
    kind, sid = ("web", record.id) if record is not None else ("api", getattr(g, "api_token_id", 0))
    grant = tokens.MediaGrant(user_id=user.id, recording_id=recording.id, session_kind=kind, session_id=sid)
    return tokens.issue(current_app.config["SECRET_KEY"], grant)


@playback_bp.get("/recordings/<int:recording_id>")
@login_required
def replay(recording_id: int):
    return render_replay(_visible_recording(recording_id))


def _all_cues(report: dict | None) -> list[dict]:
    """Every cue of every analyzer with its ref, in time order, for reviewers' verdicts."""
    cues = []
    for part, data in ((report or {}).get("parts") or {}).items():
        for index, event in enumerate((data or {}).get("events") or []):
            if isinstance(event, dict) and "start" in event:
                cues.append({**event, "ref": f"{part}:{index}", "source": part})
    return sorted(cues, key=lambda c: (c["start"], c["ref"]))


def render_replay(recording: m.Recording, comment_form: dict | None = None, comment_error: str | None = None, status: int = 200):
    """The replay page; a refused comment comes back with what was typed and why it was refused."""
    from ..review import comments, feedback

    token = None
    if recording.state == "ready" and can(g.user, "recording.play", recording):
        token = issue_token(recording, g.user)
        audit.record("recording.play", recording)  # one event per playback session (page view)
    report = None
    review = None
    if recording.state == "ready" and can(g.user, "report.view", recording):
        from ..analysis.report import latest

        row = latest(recording)
        if row is not None:
            report = dict(row.data, version=row.version)
            audit.record("report.view", recording, details={"version": row.version})
        review = {
            "comments": comments.of_recording(recording),
            "can_comment": can(g.user, "report.comment", recording),
            "can_judge": report is not None and can(g.user, "report.feedback", recording),
            "verdicts": feedback.verdicts_by_reviewer(recording, g.user),
            "cues": _all_cues(report),
            "form": comment_form or {},
            "error": comment_error,
        }
    return render_template("replay.html", recording=recording, token=token, progress=progress_of(recording), report=report,
                           review=review, pictures=has_pictures(recording), start_at=start_second(request.args.get("t"), recording)), status


def start_second(raw: str | None, recording: m.Recording) -> float | None:
    """`?t=SECONDS` (a talent pool hit, a shared link) opens the replay there; a value that is not
    a time inside the recording is ignored rather than refused, the replay still opens."""
    try:
        second = float(raw) if raw is not None and len(raw) <= 16 else None
    except ValueError:
        return None
    if second is None or not second == second or second < 0:  # NaN fails the equality
        return None
    duration = recording.duration_seconds
    if duration and second > duration:
        return None
    return round(second, 3)


@playback_bp.get("/recordings/<int:recording_id>/status.json")
@login_required
def status(recording_id: int):
    recording = _visible_recording(recording_id)
    return jsonify({"id": recording.id, "state": recording.state, "error": recording.error,
                    "how": (recording.media or {}).get("how"), "progress": progress_of(recording),
                    "pictures": has_pictures(recording)})


def _refuse(status: int, reason: str):
    log.info("media request refused (%s): %s", status, reason)  # the token itself is never logged
    return Response(_("This media link is not valid; reload the replay page.") if status == 403 else _("Not found."),
                    status=status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


@playback_bp.route("/media/<token>/<name>", methods=["GET", "HEAD"])
def media(token: str, name: str):
    arrived = time.perf_counter()  # time to first byte is measured from here (see _serve)
    content_type = SERVED.get(name)
    if content_type is None:
        return _refuse(404, f"not a served file: {name[:40]}")
    try:
        grant = access.read_grant(current_app.config["SECRET_KEY"], token)
        # Keyed by the sign-in cookie too: a link passed on to someone else signed in is checked anew.
        cookie = request.cookies.get(sessions.COOKIE_NAME)
        cache_key = (token, cookie)
        cache = _cache()
        recording = cache.fresh(cache_key)
        if recording is None:
            # This endpoint's session is loaded only here, on a cache miss.
            recording = access.playable_recording(grant, cookie, signed_in_user=sessions.deferred_user(session))
            cache.remember(cache_key, recording)
    except access.Refused as refused:
        return _refuse(refused.status, refused.reason)
    return _serve(recording, name, content_type, arrived)


# Nothing this endpoint needs comes from the database while its caches are fresh: connect only
# when a query is made (app.open_db), and read the sign-in cookie's session only on a cache miss.
media.lazy_database = True
playback_bp.record_once(lambda state: getattr(state.app.session_interface, "defer_paths", lambda *a: None)("/media/"))

READ_BYTES = 256 * 1024
"""Plaintext handed to the server per write: a few segments at a time, fewer system calls."""


def _serve(recording: m.Recording, name: str, content_type: str, arrived: float):
    from talentreel.monitoring.metrics import media_ttfb

    from ..encryption.errors import IntegrityError, UnknownObject

    store = current_app.extensions["talentreel"].store
    key = object_key(recording.id, name)
    try:
        # The data key is reused for as long as the access decision is (a replay's Range requests).
        opened = store.open_object(key, key_max_age=tokens.AUTH_CACHE_SECONDS)
    except (UnknownObject, FileNotFoundError):
        return _refuse(404, f"no {name} stored")
    except IntegrityError as exc:
        return _integrity_failure(recording, name, exc)
    try:
        total = opened.plaintext_size
        headers = dict(MEDIA_HEADERS)
        try:
            wanted = parse_range(request.headers.get("Range"), total)
        except Unsatisfiable:
            opened.close()
            headers["Content-Range"] = f"bytes */{total}"
            return Response(status=416, headers=headers)
        start, end = (wanted.start, wanted.end) if wanted else (0, total)
        status = 206 if wanted else 200
        if wanted:
            headers["Content-Range"] = wanted.content_range(total)
        headers["Content-Length"] = str(end - start)
        _touch_played(recording)
        if recording.tier == "cold":
            _bring_back(recording)
        if request.method == "HEAD":
            opened.close()
            media_ttfb.labels(name).observe(time.perf_counter() - arrived)
            return Response(status=status, headers=headers, content_type=content_type)
        body = opened.range(start, end)
    except BaseException:
        opened.close()
        raise
    try:
        chunks = _gathered(iter(body), READ_BYTES)
        first = next(chunks, b"")  # the first touched segments are verified before any byte is sent
    except IntegrityError as exc:
        body.close()
        return _integrity_failure(recording, name, exc)

    def stream():
        try:
            # Observed as the first byte leaves the view: the access check, key unwrap and first
            # decrypted segments are in it; the network after that is the player's to report.
            media_ttfb.labels(name).observe(time.perf_counter() - arrived)
            yield first
            yield from chunks
        except IntegrityError as exc:
            # Mid-stream: the bad segment's plaintext was never produced; end the response short
            # so the player reports an error rather than showing tampered media.
            log.error("integrity error serving recording %s %s: %s", recording.id, name, exc)
            raise
        finally:
            body.close()

    return Response(stream(), status=status, headers=headers, content_type=content_type, direct_passthrough=True)


def _gathered(chunks, size: int):
    """The verified chunks, joined into pieces of about `size` bytes (the last may be shorter)."""
    parts, held = [], 0
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        if held >= size:
            yield parts[0] if len(parts) == 1 else b"".join(parts)
            parts, held = [], 0
    if parts:
        yield parts[0] if len(parts) == 1 else b"".join(parts)


def _integrity_failure(recording: m.Recording, name: str, exc):
    log.error("integrity error serving recording %s %s: %s", recording.id, name, exc)
    return Response(_("This recording failed its integrity check and cannot be played. The administrator was notified."),
                    status=500, mimetype="text/plain", headers={"Cache-Control": "no-store"})


BRING_BACK_JOB = "talentreel.workers.maintenance.bring_back_recording"


def _bring_back(recording: m.Recording) -> None:
    """A cold recording plays from where it is; queue its move back to hot, once."""
    from .. import jobs

    if getattr(recording, "_bring_back_queued", False):  # the cached instance: asked already
        return
    waiting = m.WorkItem.select().where((m.WorkItem.func == BRING_BACK_JOB) & m.WorkItem.state.in_(("pending", "running"))
                                        & (m.WorkItem.args == pw.Value(f"[{recording.id}]", converter=False))).exists()
    if not waiting:
        jobs.enqueue(current_app.extensions["talentreel"].settings, "maintenance", BRING_BACK_JOB, recording.id)
    recording._bring_back_queued = True


def _touch_played(recording: m.Recording) -> None:
    now = m.utcnow()
    if recording.last_played_at is None or (now - recording.last_played_at).total_seconds() > PLAYED_TOUCH_SECONDS:
        m.Recording.update(last_played_at=now).where(m.Recording.id == recording.id).execute()
        recording.last_played_at = now  # the instance may be the cached one: no update per request


from . import reviews  # noqa: E402,F401  registers the reviewers' forms on playback_bp
