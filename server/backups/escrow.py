"""Candidate keys travel outside the backups: the key escrow.

Erasure destroys a candidate's key so that every copy of their recordings, backups included, can
no longer be decrypted (docs/privacy.md). A database dump holding that key, wrapped by a KEK that
the same backup also carries, would defeat it. So no backup's dump holds candidate key material:
the key rows are blanked in the dump (SQLite) or left out of it (PostgreSQL, which keeps only
their ids), and the keys themselves live in one file on the target, `keys/candidate-keys.enc`,
sealed with the backup key together with the KEKs they are wrapped by. It is rewritten by every
backup and by every erasure (plugins/backup_escrow.py), never kept in versions: a restore, of the
newest backup or of a year-old one, takes candidate keys from the current escrow, so a candidate
erased since the backup was taken comes back without a key - their rows return, their media and
documents stay unreadable.

Keep the target free of object versioning for `keys/` (S3 bucket versioning would keep old
escrows), as the docs say.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import models as m
from ..encryption.keyring import Keyring
from .errors import BackupError
from .hashing import HashingReader

ESCROW_NAME = "keys/candidate-keys.enc"
AAD = b"talentreel candidate key escrow v1"


def _iso(value):
    return value.isoformat() if value is not None else None


def current_rows() -> list[dict]:
    """The candidate keys as the database holds them now (destroyed ones are left out)."""
    return [{"candidate": row.candidate_id, "kek_version": row.kek_version, "wrapped": row.wrapped,
             "created_at": _iso(row.created_at), "rewrapped_at": _iso(getattr(row, "rewrapped_at", None))}
            for row in m.CandidateKey.select().where(m.CandidateKey.destroyed_at.is_null() & m.CandidateKey.wrapped.is_null(False))]


def seal(backup_key, keyring: Keyring, rows: list[dict]) -> bytes:
    keks = {str(v): base64.b64encode(keyring._kek(v)).decode() for v in keyring.versions}
    body = json.dumps({"written_at": m.utcnow().isoformat(), "keks": keks, "candidate_keys": rows}).encode()
    nonce = os.urandom(12)
    return nonce + AESGCM(backup_key.key).encrypt(nonce, body, AAD)


def unseal(backup_key, sealed: bytes) -> dict:
    try:
        body = AESGCM(backup_key.key).decrypt(sealed[:12], sealed[12:], AAD)
    except (InvalidTag, ValueError):
        raise BackupError(f"{ESCROW_NAME} does not open with the backup key from {backup_key.source} "
                          "(another instance's backup key, or the file was altered)") from None
    data = json.loads(body)
    data["keks"] = {int(v): base64.b64decode(k) for v, k in data["keks"].items()}
    return data


def write(target, backup_key, keyring: Keyring) -> dict:
    """Replace the escrow on the target with the database's current candidate keys."""
    rows = current_rows()
    reader = HashingReader(__import__("io").BytesIO(seal(backup_key, keyring, rows)))
    target.put(ESCROW_NAME, reader)
    return {"file": ESCROW_NAME, "bytes": reader.count, "sha256": reader.sha256, "candidate_keys": len(rows)}


def read(target, backup_key) -> dict | None:
    """The escrow's content, or None when the target has none (backups made before it existed)."""
    if ESCROW_NAME not in set(target.names("keys/")):
        return None
    with target.open(ESCROW_NAME) as fh:
        return unseal(backup_key, fh.read())


def apply(escrow: dict | None) -> dict:
    """After a restore: give each restored candidate key row its key from the escrow; a row the
    escrow does not hold (the candidate was erased after the backup) stays without one, destroyed."""
    held = {row["candidate"]: row for row in (escrow or {}).get("candidate_keys", [])}
    restored = destroyed = 0
    now = m.utcnow()
    for row in list(m.CandidateKey.select()):
        key = held.get(row.candidate_id)
        if key is not None and row.destroyed_at is None:
            m.CandidateKey.update(kek_version=key["kek_version"], wrapped=key["wrapped"]).where(m.CandidateKey.id == row.id).execute()
            restored += 1
        else:
            m.CandidateKey.update(kek_version=None, wrapped=None, destroyed_at=row.destroyed_at or now).where(m.CandidateKey.id == row.id).execute()
            destroyed += 1
    return {"candidate_keys_restored": restored, "candidate_keys_gone": destroyed}
