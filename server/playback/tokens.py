"""Media tokens: the only credential a media request carries.

A token names the user, the recording and the sign-in (web session or API token) it was issued
under, and expires. It is signed with the app's secret and a purpose-specific salt, so it is
useless for anything but media. Every media request re-checks the user, the sign-in and the
permission hook (cached for at most AUTH_CACHE_SECONDS), so disabling a user, signing out or
revoking access stops playback within seconds even though the token has not expired.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TOKEN_TTL_SECONDS = 4 * 3600
"""How long a media token is accepted: long enough for a long interview to be watched in one go."""

AUTH_CACHE_SECONDS = 5
"""How long a positive access check is reused for the same token (each Range request re-checks after)."""

SALT = "talentreel-media-v1"


@dataclass(frozen=True)
class MediaGrant:
    user_id: int
    recording_id: int
    session_kind: str  # "web" or "api"
    session_id: int


class InvalidToken(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def issue(secret_key: str, grant: MediaGrant) -> str:
    return _serializer(secret_key).dumps([grant.user_id, grant.recording_id, grant.session_kind, grant.session_id])


def read(secret_key: str, token: str, max_age: int = TOKEN_TTL_SECONDS) -> MediaGrant:
    return read_with_expiry(secret_key, token, max_age)[0]


def read_with_expiry(secret_key: str, token: str, max_age: int = TOKEN_TTL_SECONDS) -> tuple[MediaGrant, float]:
    """The grant and when the token stops being accepted (a Unix time)."""
    try:
        (user_id, recording_id, kind, session_id), issued = _serializer(secret_key).loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise InvalidToken("expired") from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken("invalid") from None
    return MediaGrant(int(user_id), int(recording_id), str(kind), int(session_id)), issued.timestamp() + max_age
