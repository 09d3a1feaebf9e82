"""Portal accounts: HR invites a candidate; the candidate opens a one-time link and chooses a
password. The link is never stored in clear (only its hash), works once and expires."""

from __future__ import annotations

import datetime as dt
import secrets

from .. import models as m
from ..accounts import create_user
from ..auth.tokens import new_token, token_hash
from ..errors import ValidationError

INVITE_DAYS = 7


def _username_for(candidate: m.Candidate) -> str:
    """No personal data in the user name: it is written into the audit trail with every sign-in,
    and the trail outlives an erasure (its events are never deleted)."""
    while True:
        name = f"candidate-{candidate.id}-{secrets.token_hex(2)}"
        if not m.User.select().where(m.User.username == name).exists():
            return name


def invite(candidate: m.Candidate, actor: m.User) -> tuple[m.User, str]:
    """The candidate's portal account (made now if need be, without a password) and a fresh
    one-time link token; earlier unused links of the account stop working."""
    user = candidate.user
    if user is not None and set(user.roles) != {"candidate"}:
        raise ValidationError("this candidate is linked to a staff account; portal links are for candidate accounts only", field="user")
    with m.Candidate._meta.database.atomic():
        if user is None:
            user = create_user(_username_for(candidate), None, ("candidate",), display_name=candidate.name,
                               email=candidate.email, organisation=candidate.organisation)
            m.Candidate.update(user=user).where(m.Candidate.id == candidate.id).execute()
            candidate.user = user
        m.PortalInvite.delete().where((m.PortalInvite.user == user) & m.PortalInvite.used_at.is_null()).execute()
        token = new_token()
        m.PortalInvite.create(user=user, token_hash=token_hash(token), created_by=actor,
                              expires_at=m.utcnow() + dt.timedelta(days=INVITE_DAYS))
    return user, token


def open_invite(token: str) -> m.PortalInvite | None:
    """The unused, unexpired invite of this token, or None."""
    if not token:
        return None
    return m.PortalInvite.get_or_none((m.PortalInvite.token_hash == token_hash(token)) & m.PortalInvite.used_at.is_null()
                                      & (m.PortalInvite.expires_at > m.utcnow()))
