"""The errors of encryption at rest. Each names the object (and segment) or key it is about.

They subclass TalentReelError like every error of the product; they live here rather than in
server/errors.py only because this package was written alongside it (see docs/encryption.md).
"""

from __future__ import annotations

from ..errors import NotFound, TalentReelError


class IntegrityError(TalentReelError):
    """Stored bytes failed authentication: truncated, extended, reordered, altered, or taken from
    another object. Raised before any plaintext of the failing segment is returned."""

    def __init__(self, message: str, *, object_name: str, segment: int | None = None):
        super().__init__(message)
        self.object_name = object_name
        self.segment = segment  # None: the header or the object as a whole


class KeyUnavailable(TalentReelError):
    """A key-encryption key version that a wrapped key needs is not configured, or does not
    unwrap it (wrong key supplied for that version, or the wrapped key was altered)."""


class KeyDestroyed(TalentReelError):
    """The candidate key that protects an object was destroyed: the object can never be read."""


class UnknownObject(NotFound):
    """No data key is recorded for the stored object (never stored encrypted, deleted, or replaced)."""
