"""Wrapping one key with another: AES-256-GCM with a random 96-bit nonce and an AAD that names
what the wrapped key is and what wraps it, so a wrapped key copied to another row, or presented
as wrapped by another key, fails to unwrap instead of yielding a wrong key.

    aad  = "talentreel key-wrap v1|" + subject + "|" + wrapper
    blob = base64(nonce[12] || AES-256-GCM(wrapping key, nonce, key, aad))   # 80 characters
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE = 12
AAD_PREFIX = "talentreel key-wrap v1|"


class UnwrapFailed(Exception):
    """The blob does not open under this key and AAD (callers turn it into a named error)."""


def wrap_aad(subject: str, wrapper: str) -> bytes:
    return f"{AAD_PREFIX}{subject}|{wrapper}".encode()


def seal_key(wrapping_key: bytes, key: bytes, subject: str, wrapper: str, *, nonce: bytes | None = None) -> str:
    """Wrap `key`; nonce is random unless given (test vectors fix it)."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    sealed = AESGCM(wrapping_key).encrypt(nonce, key, wrap_aad(subject, wrapper))
    return base64.b64encode(nonce + sealed).decode("ascii")


def open_key(wrapping_key: bytes, blob: str, subject: str, wrapper: str) -> bytes:
    try:
        raw = base64.b64decode(blob, validate=True)
        return AESGCM(wrapping_key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], wrap_aad(subject, wrapper))
    except (InvalidTag, binascii.Error, ValueError):
        raise UnwrapFailed(subject) from None
