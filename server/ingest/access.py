"""Who is uploading, and to what.

The browser blueprint trusts the session cookie (with CSRF protection); the API blueprint trusts
only an `Authorization: Bearer` token and ignores cookies, which is what makes exempting it from
CSRF safe. An upload belongs to the user who created it: anyone else gets 404, as does a
candidate or interview the user cannot see, so ids and tokens cannot be probed.
"""

from __future__ import annotations

from flask import g, request

from .. import accounts
from .. import models as m
from ..permissions import can

MAX_ID = 2**63 - 1
"""Largest id a BIGINT key can hold; larger numbers never reach the database."""


def session_user() -> m.User | None:
    """The signed-in browser user (the app's request hook loaded it from the session)."""
    return g.get("user")


def bearer_user() -> m.User | None:
    """The owner of the request's API token; cookies are deliberately not consulted."""
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_api_token(token.strip())


def parse_id(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if 1 <= number <= MAX_ID else None


def visible(model, object_id: int | None, kind: str, user: m.User):
    """The object if it exists and the user may view it, else None (the caller answers 404)."""
    if object_id is None:
        return None
    obj = model.get_or_none(model.id == object_id)
    if obj is None or not can(user, f"{kind}.view", obj):
        return None
    return obj


def own_upload(token: str, user: m.User) -> m.Upload | None:
    """The user's upload named by `token`, while the user may still add recordings to its candidate."""
    if len(token) != 32:
        return None
    upload = m.Upload.get_or_none((m.Upload.token == token) & (m.Upload.user == user))
    if upload is None or not can(user, "recording.create", upload.candidate):
        return None
    return upload
