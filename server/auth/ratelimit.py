"""Sign-in rate limit, kept in the database so every web process shares it.

A sign-in is refused while the account, or the client address, has `login_max_failures` failed
attempts within `login_window_seconds`. The refusal reads the same whether the account exists or
not, so it tells an attacker nothing.
"""

from __future__ import annotations

import datetime as dt

from .. import models as m


def _since(settings) -> dt.datetime:
    return m.utcnow() - dt.timedelta(seconds=settings["login_window_seconds"])


def is_limited(settings, username: str, ip: str) -> bool:
    since = _since(settings)
    failures = m.LoginAttempt.select().where((m.LoginAttempt.at > since) & (m.LoginAttempt.succeeded == False))  # noqa: E712
    limit = settings["login_max_failures"]
    by_user = failures.where(m.LoginAttempt.username == username.lower()).count()
    by_ip = failures.where(m.LoginAttempt.ip == ip).count()
    # An address gets more room than an account: an office behind one NAT shares it.
    return by_user >= limit or by_ip >= limit * 4


def note(username: str, ip: str, succeeded: bool) -> None:
    m.LoginAttempt.create(username=username.lower(), ip=ip, succeeded=succeeded)
    if succeeded:
        # A success clears the account's failures so a legitimate user is not locked by old typos.
        m.LoginAttempt.delete().where((m.LoginAttempt.username == username.lower()) & (m.LoginAttempt.succeeded == False)).execute()  # noqa: E712


def prune(settings) -> int:
    return m.LoginAttempt.delete().where(m.LoginAttempt.at < _since(settings) - dt.timedelta(days=1)).execute()
