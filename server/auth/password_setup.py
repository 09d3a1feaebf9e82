"""First sign-in for accounts that arrived without a password (migrated users).

An administrator issues a one-time link (`talentreel user setup-link USERNAME`); whoever opens it
sets the account's password and is signed in. The token is stored hashed, expires, and works once;
issuing a new link voids the user's earlier ones. An account that has a password already gets no
link: that is what a password reset by the administrator is for.
"""

from __future__ import annotations

import datetime as dt

from .. import models as m
from ..errors import ValidationError
from .tokens import new_token, token_hash

LINK_HOURS = 72


def issue(user: m.User, hours: int = LINK_HOURS) -> str:
    if user.password_hash:
        raise ValidationError(f"user {user.username} has a password already; a first sign-in link is for accounts without one")
    if not user.is_active:
        raise ValidationError(f"user {user.username} is disabled")
    token = new_token()
    now = m.utcnow()
    with m.PasswordSetupToken._meta.database.atomic():
        m.PasswordSetupToken.update(used_at=now).where((m.PasswordSetupToken.user == user) & m.PasswordSetupToken.used_at.is_null()).execute()
        m.PasswordSetupToken.create(user=user, token_hash=token_hash(token), expires_at=now + dt.timedelta(hours=hours))
    return token


def valid(token: str) -> m.PasswordSetupToken | None:
    if not token:
        return None
    record = m.PasswordSetupToken.get_or_none((m.PasswordSetupToken.token_hash == token_hash(token)) & m.PasswordSetupToken.used_at.is_null())
    if record is None or record.expires_at < m.utcnow() or record.user.password_hash or not record.user.is_active:
        return None
    return record


def redeem(record: m.PasswordSetupToken, password: str) -> m.User:
    """Set the password (raises ValidationError for a weak one, leaving the link usable)."""
    from ..accounts import set_password

    user = record.user
    with m.PasswordSetupToken._meta.database.atomic():
        set_password(user, password)
        record.used_at = m.utcnow()
        record.save()
    return user
