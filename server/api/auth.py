"""Bearer-token authentication of every API request.

Only the Authorization header counts. The application has already loaded the session cookie's
user into `g.user` by the time a blueprint hook runs; it is replaced here, because a browser
carrying a cookie must not be able to call the API on a page's behalf (the API is exempt from
CSRF protection precisely because it never trusts cookies).
"""

from __future__ import annotations

from flask import g, request

from .. import accounts
from ..i18n import _
from . import api_bp
from .errors import error_response
from .fields import MAX_BODY_BYTES

PUBLIC_ENDPOINTS = {"api.openapi"}
"""Endpoints readable without a token: the API description itself."""


def bearer_token() -> str | None:
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def unauthorized(message: str, error: str | None = None):
    response = error_response(401, message)
    # RFC 6750 §3: say which scheme to use, and why a presented token failed.
    challenge = 'Bearer realm="talentreel"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response


@api_bp.before_request
def authenticate():
    g.user = None
    request.max_content_length = MAX_BODY_BYTES
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = bearer_token()
    if token is None:
        return unauthorized(_("Send an API token as 'Authorization: Bearer <token>'."))
    user = accounts.user_for_api_token(token)
    if user is None:
        # Unknown, revoked and disabled-owner tokens read the same, so a token cannot be probed.
        return unauthorized(_("The API token is invalid or revoked."), "invalid_token")
    g.user = user
    return None
