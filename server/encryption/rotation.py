"""Key-encryption key rotation: re-wrap every key the database holds under the newest KEK version.

Only wrapped keys change (candidate keys, and data keys of objects of no candidate); stored media
is never read or rewritten. Work goes in small batches, each its own transaction, and each row is
updated only if it still holds what was read (compare and set), so:

- killed at any point (even kill -9), a batch is either committed or rolled back, every row is
  under either the old or the new version, and the old version still unwraps it;
- a rerun picks up whatever is still under an older version; running it twice, or two at once,
  is harmless;
- a key destroyed while a rotation runs stays destroyed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import peewee as pw

from ..db import database
from ..models import CandidateKey, DataKey, utcnow
from .keyring import Keyring
from .keys import candidate_subject, data_subject

DEFAULT_BATCH_SIZE = 200
"""Rows re-wrapped per transaction: short transactions, little work lost to a kill."""


@dataclass
class RotationResult:
    kek_version: int
    candidate_keys: int = 0  # re-wrapped by this run
    data_keys: int = 0  # re-wrapped by this run (objects of no candidate)
    remaining: int = 0  # rows still under an older version when the run ended (written meanwhile)

    def as_dict(self) -> dict:
        return asdict(self)


def rotate(keyring: Keyring, *, batch_size: int = DEFAULT_BATCH_SIZE,
           progress: Callable[[RotationResult], None] | None = None) -> RotationResult:
    """Re-wrap every wrapped key under keyring.newest; return what was done. `progress` is called
    after each committed batch (the CLI prints it). KeyUnavailable if an older version a row needs
    is not configured: nothing is lost, supply the key and run again."""
    result = RotationResult(kek_version=keyring.newest)
    tables = (
        (CandidateKey, lambda row: candidate_subject(row.candidate_id), "candidate_keys"),
        (DataKey, lambda row: data_subject(row.object_id), "data_keys"),
    )
    for model, subject_of, counter in tables:
        after_id = 0
        while True:
            with database.atomic():
                rows = list(_outdated(model, result.kek_version).where(model.id > after_id).order_by(model.id).limit(batch_size))
                if not rows:
                    break
                for row in rows:
                    subject = subject_of(row)
                    key = keyring.unwrap(row.kek_version, row.wrapped, subject)
                    version, blob = keyring.wrap(key, subject, version=result.kek_version)
                    changed = (model.update(kek_version=version, wrapped=blob, rewrapped_at=utcnow())
                               .where(model.id == row.id, model.kek_version == row.kek_version, model.wrapped == row.wrapped)
                               .execute())
                    setattr(result, counter, getattr(result, counter) + changed)
                after_id = rows[-1].id
            if progress:
                progress(result)
    result.remaining = sum(_outdated(model, result.kek_version).count() for model, _, _ in tables)
    return result


def _outdated(model, version: int) -> pw.ModelSelect:
    return model.select().where(model.kek_version.is_null(False), model.kek_version != version)


def key_usage() -> dict:
    """How many keys each KEK version wraps: a version no longer listed can be retired."""
    usage: dict[int, dict[str, int]] = {}
    for model, name in ((CandidateKey, "candidate_keys"), (DataKey, "data_keys")):
        query = (model.select(model.kek_version, pw.fn.COUNT(model.id).alias("n"))
                 .where(model.kek_version.is_null(False)).group_by(model.kek_version))
        for row in query:
            usage.setdefault(row.kek_version, {"candidate_keys": 0, "data_keys": 0})[name] = row.n
    destroyed = CandidateKey.select().where(CandidateKey.destroyed_at.is_null(False)).count()
    return {"kek_versions": dict(sorted(usage.items())), "destroyed_candidate_keys": destroyed}
