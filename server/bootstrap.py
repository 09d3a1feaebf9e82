"""First start: with no user at all, print a one-time link that creates the first administrator.

There is never a default password. The link's token is stored hashed, works once, and a new one
replaces any unused one each time the server starts while there is still no user.
"""

from __future__ import annotations

from . import models as m
from .auth.tokens import new_token, token_hash


def setup_token_if_needed() -> str | None:
    """Return a fresh one-time token when the instance has no users, else None."""
    if m.User.select().exists():
        return None
    with m.SetupToken._meta.database.atomic():
        m.SetupToken.delete().where(m.SetupToken.used_at.is_null()).execute()
        token = new_token()
        m.SetupToken.create(token_hash=token_hash(token))
    return token


def setup_message(token: str, base_url: str) -> str:
    return (
        "No user exists yet. Create the first administrator with this one-time link:\n"
        f"    {base_url.rstrip('/')}/setup?token={token}\n"
        "or run `talentreel createuser USERNAME --role it_admin --role hr`."
    )
