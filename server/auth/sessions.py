"""Server-side sessions as Flask's session interface.

A signed-in browser carries only a random session id; the database row (models.WebSession) holds
the data and can be revoked: logout, disabling the user or an admin's "sign out everywhere" kill
the session at the next request. Before sign-in, a visitor's session (just the CSRF token and the
page to return to) lives in a signed cookie, so anonymous traffic writes nothing to the database.
Every sign-in issues a new session id (no session fixation).
"""

from __future__ import annotations

import datetime as dt

import peewee as pw
from flask.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from .. import models as m
from .tokens import new_token, token_hash

COOKIE_NAME = "talentreel_session"
ANON_COOKIE_NAME = "talentreel_visit"
TOUCH_INTERVAL = dt.timedelta(minutes=1)  # last_seen_at is written at most this often


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, record: m.WebSession | None = None):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.record = record
        self.modified = False
        self.new_token: str | None = None  # set by start(); the cookie to send
        self.ended = False
        self.deferred_sid: str | None = None  # see TalentReelSessionInterface.defer_paths

    @property
    def user(self) -> m.User | None:
        return self.record.user if self.record is not None else None


class TalentReelSessionInterface(SessionInterface):
    def __init__(self):
        self._anon = SecureCookieSessionInterface()
        self._anon.salt = "talentreel-visit"
        self._deferred_prefixes: tuple[str, ...] = ()

    def defer_paths(self, prefix: str) -> None:
        """Do not load the signed-in session of requests under `prefix` up front: their view asks
        for it with deferred_user() when it needs it (the media endpoint: only when its access
        cache has no fresh decision for the cookie), and nothing is written back to it."""
        if prefix not in self._deferred_prefixes:
            self._deferred_prefixes += (prefix,)

    def _lifetime(self, app) -> dt.timedelta:
        return dt.timedelta(hours=app.extensions["talentreel"].settings["session_lifetime_hours"])

    def open_session(self, app, request):
        sid = request.cookies.get(COOKIE_NAME)
        if sid and self._deferred_prefixes and request.path.startswith(self._deferred_prefixes):
            deferred = ServerSession()
            deferred.deferred_sid = sid
            return deferred
        if sid:
            try:
                record = self._load(sid)
            except (pw.OperationalError, pw.InterfaceError):
                # Database down: carry on anonymously; the request itself then answers 503
                # through the app's error handler instead of a bare 500 from session loading.
                record = None
            if record is not None:
                return ServerSession(dict(record.data or {}), record)
        serializer = self._anon.get_signing_serializer(app)
        data = {}
        raw = request.cookies.get(ANON_COOKIE_NAME)
        if raw and serializer is not None:
            try:
                data = serializer.loads(raw, max_age=int(self._lifetime(app).total_seconds()))
            except Exception:  # a stale or forged cookie is simply ignored
                data = {}
        return ServerSession(data)

    @staticmethod
    def _load(sid: str) -> m.WebSession | None:
        now = m.utcnow()
        return (
            m.WebSession.select(m.WebSession, m.User)
            .join(m.User)
            .where(
                (m.WebSession.token_hash == token_hash(sid))
                & m.WebSession.revoked_at.is_null()
                & (m.WebSession.expires_at > now)
                & (m.User.is_active == True)  # noqa: E712  a disabled user's sessions die at once
            )
            .first()
        )

    def save_session(self, app, session: ServerSession, response):
        if session.deferred_sid is not None:
            return  # never loaded, so nothing to touch, and the cookie stays as it is
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        samesite = self.get_cookie_samesite(app)
        common = dict(domain=domain, path=path, secure=secure, httponly=True, samesite=samesite)
        if session.ended:
            response.delete_cookie(COOKIE_NAME, domain=domain, path=path)
        if session.record is not None and not session.ended:
            now = m.utcnow()
            record = session.record
            fields = {}
            if session.modified:
                fields["data"] = dict(session)
            if session.new_token or now - record.last_seen_at > TOUCH_INTERVAL:
                fields["last_seen_at"] = now
                fields["expires_at"] = now + self._lifetime(app)
            if fields:
                m.WebSession.update(**fields).where(m.WebSession.id == record.id).execute()
            if session.new_token:
                response.set_cookie(COOKIE_NAME, session.new_token, max_age=self._lifetime(app), **common)
                response.delete_cookie(ANON_COOKIE_NAME, domain=domain, path=path)
            response.vary.add("Cookie")
            return
        if not session and not session.modified:
            return
        serializer = self._anon.get_signing_serializer(app)
        if not session:
            response.delete_cookie(ANON_COOKIE_NAME, domain=domain, path=path)
            return
        response.set_cookie(ANON_COOKIE_NAME, serializer.dumps(dict(session)), **common)
        response.vary.add("Cookie")


def deferred_user(session: ServerSession) -> m.User | None:
    """The signed-in user of the request: for a session whose loading was deferred (see
    TalentReelSessionInterface.defer_paths) it is read now, one query; else session.user."""
    sid = getattr(session, "deferred_sid", None)
    if sid is None:
        return getattr(session, "user", None)
    record = TalentReelSessionInterface._load(sid)
    return record.user if record is not None else None


def start(app, session: ServerSession, user: m.User, request) -> None:
    """Sign `user` in on this request: a fresh session id, the visitor's data carried over."""
    token = new_token()
    now = m.utcnow()
    data = {k: v for k, v in session.items() if k != "csrf_token"}  # a new CSRF token too
    record = m.WebSession.create(
        user=user,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=app.extensions["talentreel"].settings["session_lifetime_hours"]),
        ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:255],
        data=data,
    )
    session.clear()
    session.update(data)
    session.record = record
    session.new_token = token


def end(session: ServerSession) -> None:
    if session.record is not None:
        m.WebSession.update(revoked_at=m.utcnow()).where(m.WebSession.id == session.record.id).execute()
    session.clear()
    session.record = None
    session.ended = True


def revoke_all(user: m.User) -> int:
    """Sign a user out everywhere (used when an admin disables the account or resets a password)."""
    return (
        m.WebSession.update(revoked_at=m.utcnow())
        .where((m.WebSession.user == user) & m.WebSession.revoked_at.is_null())
        .execute()
    )
