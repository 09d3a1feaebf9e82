"""Jobs of the `maintenance` queue: housekeeping that keeps the database small."""

from __future__ import annotations

import datetime as dt

from talentreel.server import models as m
from talentreel.server.auth import ratelimit

from .base import job, settings

SESSION_KEEP_DAYS = 30
"""Ended sessions are kept this long for the access review, then deleted."""


@job
def prune_sessions() -> dict:
    """Delete sessions that ended (expired or revoked) more than SESSION_KEEP_DAYS ago and sign-in
    attempts older than the rate-limit window; return what was deleted."""
    cutoff = m.utcnow() - dt.timedelta(days=SESSION_KEEP_DAYS)
    sessions = m.WebSession.delete().where(
        (m.WebSession.expires_at < cutoff) | (m.WebSession.revoked_at.is_null(False) & (m.WebSession.revoked_at < cutoff))
    ).execute()
    attempts = ratelimit.prune(settings())
    return {"sessions": sessions, "login_attempts": attempts}
