"""Creating and changing users, organisations and API tokens: shared by the CLI, the setup page,
the demo seeder and the admin console, so validation lives in one place."""

from __future__ import annotations

import re

from . import models as m
from . import statements
from .auth import passwords
from .auth.tokens import new_token, token_hash
from .errors import ValidationError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
API_TOKEN_PREFIX = "trk_"


def default_organisation(name: str = "TalentReel") -> m.Organisation:
    """The organisation of a single-tenant instance, created on first use."""
    org = m.Organisation.select().order_by(m.Organisation.id).first()
    return org or m.Organisation.create(name=name)


def create_user(username: str, password: str | None, roles=("hr",), *, display_name: str = "", email: str | None = None,
                organisation: m.Organisation | None = None, departments=(), locale: str | None = None) -> m.User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationError("username: 2 to 64 letters, digits or . _ @ -", field="username")
    bad = [r for r in roles if r not in m.ROLES]
    if bad or not roles:
        raise ValidationError(f"roles: expected one or more of {', '.join(m.ROLES)}, got {', '.join(bad) or 'none'}", field="roles")
    if email is not None and email.strip() and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email.strip()):
        raise ValidationError("email: not an e-mail address", field="email")
    password_hash = passwords.hash_password(password) if password is not None else None
    if m.User.select().where(m.User.username == username).exists():
        raise ValidationError(f"username: '{username}' is taken", field="username")
    org = organisation or default_organisation()
    with m.User._meta.database.atomic():
        user = m.User.create(
            organisation=org, username=username, email=(email or "").strip() or None,
            display_name=display_name.strip() or username, password_hash=password_hash, locale=locale,
        )
        for role in sorted(set(roles)):
            m.UserRole.create(user=user, role=role)
        for dept in departments:
            m.UserDepartment.create(user=user, department=dept)
    return user


def set_password(user: m.User, password: str) -> None:
    from .auth.sessions import revoke_all

    user.password_hash = passwords.hash_password(password)
    user.save()
    revoke_all(user)


def set_active(user: m.User, active: bool) -> None:
    from .auth.sessions import revoke_all

    user.is_active = active
    user.save()
    if not active:
        revoke_all(user)


def create_api_token(user: m.User, name: str) -> tuple[m.ApiToken, str]:
    """Return the row and the token itself, which is shown once and never stored."""
    token = new_token(API_TOKEN_PREFIX)
    row = m.ApiToken.create(user=user, name=name or "token", prefix=token[:12], token_hash=token_hash(token))
    return row, token


def user_for_api_token(token: str) -> m.User | None:
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    # Every API request runs this: its statement is rendered once (statements.py).
    hashed = token_hash(token)
    found = statements.models(m.User, ("user_for_api_token",), lambda: (
        m.User.select(m.User, m.ApiToken.id.alias("token_id"), m.ApiToken.last_used_at.alias("token_last_used_at"))
        .join(m.ApiToken, on=(m.ApiToken.user == m.User.id))
        .where((m.ApiToken.token_hash == hashed) & m.ApiToken.revoked_at.is_null() & (m.User.is_active == True))  # noqa: E712
        .limit(1)), (hashed, True, 1))
    if not found:
        return None
    user = found[0]
    last_used = m.ApiToken.last_used_at.python_value(user.__dict__.pop("token_last_used_at"))
    token_id = user.__dict__.pop("token_id")
    now = m.utcnow()
    if last_used is None or (now - last_used).total_seconds() > 60:
        m.ApiToken.update(last_used_at=now).where(m.ApiToken.id == token_id).execute()
    return user
