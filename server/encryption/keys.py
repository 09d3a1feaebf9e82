"""The key hierarchy kept in the database.

    key-encryption key (versioned, outside the database)
      └─ wraps the candidate key of each candidate                      (table candidate_key)
           └─ wraps the data key of each object stored for them         (table data_key)
      └─ wraps directly the data key of an object of no candidate       (table data_key)

Rotating the key-encryption key re-wraps candidate keys and those few direct data keys only;
destroying a candidate key makes every object of the candidate unreadable at once, in every copy of
the objects, because their data keys can no longer be unwrapped.
"""

from __future__ import annotations

import os

import peewee as pw

from ..models import CandidateKey, DataKey, utcnow
from .errors import IntegrityError, KeyDestroyed, KeyUnavailable, UnknownObject
from .format import KEY_SIZE, new_object_id
from .keyring import Keyring
from .wrapping import UnwrapFailed, open_key, seal_key


def candidate_subject(candidate_id: int) -> str:
    return f"candidate-key candidate={candidate_id}"


def candidate_wrapper(candidate_id: int) -> str:
    return f"candidate-key:{candidate_id}"


def data_subject(object_id: str) -> str:
    return f"data-key object={object_id}"


def candidate_key(keyring: Keyring, candidate_id: int, *, create: bool = False) -> tuple[CandidateKey, bytes]:
    """The candidate's key row and key, created on first use when `create`; KeyDestroyed once destroyed."""
    row = CandidateKey.get_or_none(CandidateKey.candidate == candidate_id)
    if row is None and create:
        key = os.urandom(KEY_SIZE)
        version, blob = keyring.wrap(key, candidate_subject(candidate_id))
        try:
            with CandidateKey._meta.database.atomic():
                return CandidateKey.create(candidate=candidate_id, kek_version=version, wrapped=blob), key
        except pw.IntegrityError:  # a concurrent put created it first: use theirs
            row = CandidateKey.get(CandidateKey.candidate == candidate_id)
    if row is None:
        raise UnknownObject(f"candidate {candidate_id} has no key")
    return row, _unwrap_candidate_key(keyring, row)


def _unwrap_candidate_key(keyring: Keyring, row: CandidateKey) -> bytes:
    if row.wrapped is None:
        raise KeyDestroyed(
            f"candidate {row.candidate_id}: the candidate key was destroyed on {row.destroyed_at:%Y-%m-%d %H:%M} UTC, "
            "so the candidate's objects can no longer be decrypted"
        )
    return keyring.unwrap(row.kek_version, row.wrapped, candidate_subject(row.candidate_id))


def destroy_candidate_key(candidate_id: int) -> bool:
    """Destroy the candidate's key, leaving a tombstone so no new object is stored under a fresh
    key by mistake. Returns False when it was destroyed already. What else must happen for old
    backups (retiring the key-encryption key version) is in docs/encryption.md."""
    now = utcnow()
    with CandidateKey._meta.database.atomic():
        destroyed = (CandidateKey.update(wrapped=None, kek_version=None, destroyed_at=now)
                     .where(CandidateKey.candidate == candidate_id, CandidateKey.destroyed_at.is_null())
                     .execute())
        if destroyed:
            return True
        if CandidateKey.get_or_none(CandidateKey.candidate == candidate_id) is None:
            CandidateKey.create(candidate=candidate_id, kek_version=None, wrapped=None, destroyed_at=now)
            return True
    return False


def new_data_key(keyring: Keyring, object_key: str, candidate_id: int | None) -> tuple[DataKey, bytes]:
    """A fresh data key and object id for an object about to be stored, recorded (committed) as
    in flight before any byte reaches storage, so storage never holds an object without its key."""
    data_key = os.urandom(KEY_SIZE)
    object_id = new_object_id().hex()
    subject = data_subject(object_id)
    row = DataKey(object_id=object_id, object_key=object_key)
    if candidate_id is None:
        row.kek_version, row.wrapped = keyring.wrap(data_key, subject)
    else:
        row.candidate_key, wrapping_key = candidate_key(keyring, candidate_id, create=True)
        row.wrapped = seal_key(wrapping_key, data_key, subject, candidate_wrapper(candidate_id))
    with DataKey._meta.database.atomic():
        row.save(force_insert=True)
    return row, data_key


def data_key(keyring: Keyring, object_id: bytes, object_key: str) -> tuple[DataKey, bytes]:
    """The row and data key of the object whose header names `object_id`, read from storage key
    `object_key`; a header naming an object stored under another key means objects were swapped."""
    # One query for both rows: this runs on every range request of a replay.
    row = (DataKey.select(DataKey, CandidateKey).join(CandidateKey, pw.JOIN.LEFT_OUTER)
           .where(DataKey.object_id == object_id.hex()).first())
    if row is None:
        raise UnknownObject(f"object {object_key}: no data key for object id {object_id.hex()} (deleted, replaced, or not stored by this instance)")
    if row.object_key != object_key:
        raise IntegrityError(
            f"object {object_key}: storage holds object {row.object_id}, which was stored as {row.object_key} (objects swapped)",
            object_name=object_key,
        )
    subject = data_subject(row.object_id)
    if row.candidate_key_id is None:
        return row, keyring.unwrap(row.kek_version, row.wrapped, subject)
    owner = row.candidate_key
    wrapping_key = _unwrap_candidate_key(keyring, owner)
    try:
        return row, open_key(wrapping_key, row.wrapped, subject, candidate_wrapper(owner.candidate_id))
    except UnwrapFailed:
        raise KeyUnavailable(f"object {object_key}: its data key does not unwrap with candidate {owner.candidate_id}'s key (the stored key was altered)") from None
