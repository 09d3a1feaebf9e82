"""Who may fetch a recording's media with a given token: decided here once, for the web app's
media endpoint and for the media server (edge.py) alike.

A media token names the user, the recording and the sign-in it was issued under (tokens.py). A
request holding one is allowed only while all of this still holds: the token is genuine and not
expired; if the request also carries a sign-in cookie, it is the same user's (a link passed on to
someone else signed in is refused); the recording exists and is ready; the user is active; the
sign-in the token was issued under is still open; and the permission hook still lets the user play
the recording. Callers cache a positive answer for at most tokens.AUTH_CACHE_SECONDS, which bounds
how long a withdrawn access can go on working.

Runs inside an app context with a database connection available (peewee connects on demand).
"""

from __future__ import annotations

from .. import models as m
from ..auth.sessions import TalentReelSessionInterface
from ..permissions import can
from . import tokens


class Refused(Exception):
    """The request is refused: `status` (403 or 404) and a reason for the log (never the token)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def sign_in_alive(grant: tokens.MediaGrant) -> bool:
    now = m.utcnow()
    if grant.session_kind == "web":
        return m.WebSession.select().where(
            (m.WebSession.id == grant.session_id) & (m.WebSession.user == grant.user_id)
            & m.WebSession.revoked_at.is_null() & (m.WebSession.expires_at > now)).exists()
    if grant.session_kind == "api":
        return m.ApiToken.select().where(
            (m.ApiToken.id == grant.session_id) & (m.ApiToken.user == grant.user_id) & m.ApiToken.revoked_at.is_null()).exists()
    return False


def read_grant(secret_key: str, token: str) -> tokens.MediaGrant:
    """The token's grant, checked for signature and age only (no database)."""
    try:
        return tokens.read(secret_key, token, max_age=tokens.TOKEN_TTL_SECONDS)
    except tokens.InvalidToken as exc:
        raise Refused(403, f"token {exc.reason}") from None


def playable_recording(grant: tokens.MediaGrant, session_cookie: str | None, signed_in_user=...) -> m.Recording:
    """The recording the grant opens, after every live check; raises Refused.

    session_cookie: the request's sign-in cookie, if any. signed_in_user: the user behind it when
    the caller has resolved it already (the web app's deferred session); else it is looked up."""
    if signed_in_user is ...:
        record = TalentReelSessionInterface._load(session_cookie) if session_cookie else None
        signed_in_user = record.user if record is not None else None
    if signed_in_user is not None and signed_in_user.id != grant.user_id:
        raise Refused(403, "token of another user")
    recording = m.Recording.get_or_none(m.Recording.id == grant.recording_id)
    if recording is None or recording.state != "ready":
        raise Refused(404, "recording gone or not ready")
    user = m.User.get_or_none(m.User.id == grant.user_id)
    if user is None or not user.is_active or not sign_in_alive(grant) or not can(user, "recording.play", recording):
        raise Refused(403, "access withdrawn")
    return recording
