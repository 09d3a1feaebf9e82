"""EncryptedStore over the local backend, with the keys in the database (SQLite or PostgreSQL):
round trips, ranges, all-or-nothing puts, tampering seen from the store, candidate key destruction."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import shutil

import peewee as pw
import pytest

from talentreel.plugins.storage_local import LocalStorage
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.encryption import EncryptedStore, IntegrityError, KeyDestroyed, KeyUnavailable, Keyring, UnknownObject
from talentreel.server.encryption import format as fmt
from talentreel.server.encryption import keys

SEGMENT = 4096  # small segments keep multi-segment objects small


@pytest.fixture
def keyring(data_dir):
    return Keyring.load(data_dir, mode="embedded", environ={})


@pytest.fixture
def backend(data_dir):
    return LocalStorage(str(data_dir / "objects"))


@pytest.fixture
def store(db, backend, keyring):
    return EncryptedStore(backend, keyring, segment_size=SEGMENT)


@pytest.fixture
def candidate(db):
    return m.Candidate.create(organisation=default_organisation(), name="王芳")


def put(store, key, data, candidate=None):
    return store.put(key, io.BytesIO(data), candidate_id=candidate.id if candidate else None)


def read(store, key, start=0, end=None):
    with store.open_range(key, start, end) as chunks:
        return b"".join(chunks)


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * 1024 * 1024 + 17])
def test_round_trip_through_the_backend(store, backend, candidate, size):
    plaintext = os.urandom(size)
    stored = put(store, "recordings/1/original", plaintext, candidate)
    assert (stored.plaintext_size, stored.ciphertext_size) == (size, backend.size("recordings/1/original"))
    assert read(store, "recordings/1/original") == plaintext
    assert store.plaintext_size("recordings/1/original") == size
    assert store.verify("recordings/1/original") == size
    with store.open("recordings/1/original") as f:
        assert f.read() == plaintext
    row = m.DataKey.get(m.DataKey.object_key == "recordings/1/original")
    assert row.object_id == stored.object_id and row.stored_at is not None and row.kek_version is None
    assert row.candidate_key.candidate_id == candidate.id
    raw = backend.open("recordings/1/original").read()
    assert raw.startswith(fmt.MAGIC) and bytes.fromhex(stored.object_id) in raw[:fmt.HEADER_SIZE]
    if size >= 64:
        assert plaintext[:64] not in raw


def test_an_object_of_no_candidate_is_wrapped_by_the_kek(store, keyring):
    put(store, "exports/report.pdf", b"%PDF-1.7 ...")
    row = m.DataKey.get(m.DataKey.object_key == "exports/report.pdf")
    assert row.candidate_key_id is None and row.kek_version == keyring.newest
    assert read(store, "exports/report.pdf") == b"%PDF-1.7 ..."


def test_ranges_know_their_bounds_before_the_first_byte(store, candidate):
    plaintext = os.urandom(10 * SEGMENT + 123)
    put(store, "recordings/2/mp4", plaintext, candidate)
    rng = random.Random(7)
    for _ in range(200):
        start = rng.randrange(0, len(plaintext) + 1)
        end = rng.randrange(start, len(plaintext) + 10)
        opened = store.open_range("recordings/2/mp4", start, end)
        assert (opened.start, opened.end, opened.plaintext_size) == (start, min(end, len(plaintext)), len(plaintext))
        assert len(opened) == min(end, len(plaintext)) - start
        assert opened.read_all() == plaintext[start:end]
    assert read(store, "recordings/2/mp4", len(plaintext) + 5) == b""
    with pytest.raises(ValueError):
        store.open_range("recordings/2/mp4", -1)


def test_one_candidate_key_for_all_of_a_candidates_objects(store, candidate):
    for name in ("original", "mp4", "poster.jpg", "audio.wav"):
        put(store, f"recordings/3/{name}", name.encode(), candidate)
    assert m.CandidateKey.select().count() == 1
    assert m.DataKey.select().where(m.DataKey.candidate_key.is_null(False)).count() == 4
    assert len({r.wrapped for r in m.DataKey.select()}) == 4


def test_a_concurrently_created_candidate_key_is_reused(store, keyring, candidate, monkeypatch):
    put(store, "recordings/4/a", b"first", candidate)
    real = m.CandidateKey.get_or_none
    calls = []

    def stale_then_real(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)  # as if another put created it just now

    monkeypatch.setattr(m.CandidateKey, "get_or_none", stale_then_real)
    put(store, "recordings/4/b", b"second", candidate)
    monkeypatch.undo()
    assert m.CandidateKey.select().count() == 1
    assert read(store, "recordings/4/a") == b"first" and read(store, "recordings/4/b") == b"second"


# --- all or nothing ---------------------------------------------------------------------------


class FailingSource(io.RawIOBase):
    def __init__(self, good_bytes):
        self.left = good_bytes

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise OSError("upload connection reset")
        n = min(len(buffer), self.left)
        buffer[:n] = b"v" * n
        self.left -= n
        return n


def test_a_failed_put_stores_nothing_and_keeps_the_previous_object(store, backend, candidate):
    with pytest.raises(OSError, match="connection reset"):
        store.put("recordings/5/original", FailingSource(3 * SEGMENT), candidate_id=candidate.id)
    assert not backend.exists("recordings/5/original")
    assert list(backend.keys()) == [] and not list((backend.root / "recordings" / "5").iterdir())
    assert m.DataKey.select().count() == 0

    put(store, "recordings/5/original", b"the good take", candidate)
    with pytest.raises(OSError):
        store.put("recordings/5/original", FailingSource(10), candidate_id=candidate.id)
    assert read(store, "recordings/5/original") == b"the good take"
    assert m.DataKey.select().count() == 1


def test_replacing_an_object_retires_the_old_key(store, backend, candidate):
    first = put(store, "recordings/6/mp4", b"first encode", candidate)
    old_copy = backend.open("recordings/6/mp4").read()
    second = put(store, "recordings/6/mp4", b"second encode", candidate)
    assert read(store, "recordings/6/mp4") == b"second encode"
    assert [r.object_id for r in m.DataKey.select()] == [second.object_id]
    # Restoring the old ciphertext (from a backup, or by an attacker) does not bring it back.
    with open(backend.path("recordings/6/mp4"), "wb") as f:
        f.write(old_copy)
    with pytest.raises(UnknownObject, match=f"recordings/6/mp4: no data key for object id {first.object_id}"):
        store.open_range("recordings/6/mp4")


def test_a_crash_after_the_backend_wrote_leaves_a_readable_object(store, candidate, monkeypatch):
    put(store, "recordings/7/mp4", b"old", candidate)

    def crash(*args):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(EncryptedStore, "_mark_stored", staticmethod(crash))
    with pytest.raises(RuntimeError):
        put(store, "recordings/7/mp4", b"new", candidate)
    monkeypatch.undo()
    assert read(store, "recordings/7/mp4") == b"new"  # found by the object id in its header
    assert m.DataKey.select().where(m.DataKey.stored_at.is_null()).count() == 1
    assert store.finish_interrupted_puts(older_than=dt.timedelta(0)) == {"completed": 1, "discarded": 0}
    (row,) = m.DataKey.select()
    assert row.stored_at is not None and row.plaintext_size == 3
    assert read(store, "recordings/7/mp4") == b"new"


def test_interrupted_puts_that_never_landed_are_discarded(store, keyring, candidate):
    put(store, "recordings/8/mp4", b"kept", candidate)
    keys.new_data_key(keyring, "recordings/8/mp4", candidate.id)  # a put that died before the backend wrote
    keys.new_data_key(keyring, "recordings/9/mp4", candidate.id)  # ... for an object that never existed
    assert store.finish_interrupted_puts(older_than=dt.timedelta(0)) == {"completed": 0, "discarded": 2}
    assert m.DataKey.select().count() == 1 and read(store, "recordings/8/mp4") == b"kept"


def test_delete_removes_the_key_first(store, backend, candidate, monkeypatch):
    put(store, "recordings/10/mp4", b"bye", candidate)
    assert store.exists("recordings/10/mp4")

    def backend_down(key):
        raise OSError("storage unreachable")

    monkeypatch.setattr(backend, "delete", backend_down)
    with pytest.raises(OSError):
        store.delete("recordings/10/mp4")
    assert backend.exists("recordings/10/mp4") and m.DataKey.select().count() == 0
    with pytest.raises(UnknownObject):
        store.open_range("recordings/10/mp4")
    monkeypatch.undo()
    store.delete("recordings/10/mp4")
    assert not store.exists("recordings/10/mp4") and not backend.exists("recordings/10/mp4")
    with pytest.raises(UnknownObject, match="not in storage"):
        store.open_range("recordings/10/mp4")


# --- tampering seen from the store ------------------------------------------------------------


def tamper(backend, key, change):
    path = backend.path(key)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(change(data)))


def test_truncation_and_appending_are_caught_when_opening(store, backend, candidate):
    put(store, "recordings/11/mp4", os.urandom(5 * SEGMENT), candidate)
    full = backend.size("recordings/11/mp4")
    tamper(backend, "recordings/11/mp4", lambda d: d[:full - (SEGMENT + 16)])  # exactly the final segment gone
    with pytest.raises(IntegrityError, match=f"recordings/11/mp4: storage holds {full - SEGMENT - 16} bytes but {full} were stored"):
        store.open_range("recordings/11/mp4", 0, 10)
    put(store, "recordings/11/mp4", os.urandom(5 * SEGMENT), candidate)
    tamper(backend, "recordings/11/mp4", lambda d: d + b"\0" * (SEGMENT + 16))
    with pytest.raises(IntegrityError, match="truncated or extended"):
        store.open("recordings/11/mp4")


def test_a_flipped_bit_stops_the_range_before_the_bad_segment(store, backend, candidate):
    plaintext = os.urandom(4 * SEGMENT)
    put(store, "recordings/12/mp4", plaintext, candidate)
    tamper(backend, "recordings/12/mp4", lambda d: d.__setitem__(fmt.HEADER_SIZE + 2 * (SEGMENT + 16) + 99, d[fmt.HEADER_SIZE + 2 * (SEGMENT + 16) + 99] ^ 4) or d)
    got = []
    with pytest.raises(IntegrityError, match="recordings/12/mp4: segment 2 of 4 failed authentication") as caught:
        for chunk in store.open_range("recordings/12/mp4", 100):
            got.append(chunk)
    assert caught.value.segment == 2 and b"".join(got) == plaintext[100:2 * SEGMENT]
    assert read(store, "recordings/12/mp4", 0, SEGMENT) == plaintext[:SEGMENT]


def test_objects_swapped_between_keys_are_caught(store, backend, candidate):
    put(store, "recordings/13/mp4", b"candidate thirteen", candidate)
    put(store, "recordings/14/mp4", b"candidate fourteen", candidate)
    shutil.copyfile(backend.path("recordings/14/mp4"), backend.path("recordings/13/mp4"))
    with pytest.raises(IntegrityError, match="recordings/13/mp4: storage holds object .*, which was stored as recordings/14/mp4"):
        store.open_range("recordings/13/mp4")


def test_a_header_from_another_object_is_caught(store, backend, candidate):
    put(store, "recordings/15/mp4", b"fifteen" * 1000, candidate)
    a = backend.path("recordings/15/mp4").read_bytes()
    put(store, "recordings/16/mp4", b"sixteen" * 1000, candidate)
    b = backend.path("recordings/16/mp4").read_bytes()
    backend.path("recordings/16/mp4").write_bytes(b[:fmt.HEADER_SIZE] + a[fmt.HEADER_SIZE:])
    with pytest.raises(IntegrityError, match="recordings/16/mp4: final segment 1 of 2 failed|recordings/16/mp4: segment 0 of 2 failed"):
        read(store, "recordings/16/mp4")
    backend.path("recordings/15/mp4").write_bytes(b[:fmt.HEADER_SIZE] + a[fmt.HEADER_SIZE:])
    with pytest.raises(IntegrityError, match="which was stored as recordings/16/mp4"):
        store.open_range("recordings/15/mp4")


def test_an_altered_wrapped_key_is_refused(store, candidate):
    put(store, "recordings/17/mp4", b"x", candidate)
    put(store, "recordings/18/mp4", b"y", candidate)
    a, b = m.DataKey.select().order_by(m.DataKey.id)
    m.DataKey.update(wrapped=b.wrapped).where(m.DataKey.id == a.id).execute()  # one row's key moved to another
    with pytest.raises(KeyUnavailable, match="recordings/17/mp4: its data key does not unwrap"):
        store.open_range("recordings/17/mp4")
    assert read(store, "recordings/18/mp4") == b"y"


# --- candidate keys ---------------------------------------------------------------------------


def test_destroying_a_candidate_key_makes_only_their_objects_unreadable(store, backend, candidate, tmp_path):
    other = m.Candidate.create(organisation=default_organisation(), name="Other")
    put(store, "recordings/20/mp4", b"erase me" * 5000, candidate)
    put(store, "recordings/20/poster.jpg", b"\xff\xd8 poster", candidate)
    put(store, "recordings/21/mp4", b"keep me", other)
    put(store, "exports/all.csv", b"no candidate")
    backup = tmp_path / "old-backup.bin"
    shutil.copyfile(backend.path("recordings/20/mp4"), backup)

    assert keys.destroy_candidate_key(candidate.id) is True
    assert keys.destroy_candidate_key(candidate.id) is False
    for key in ("recordings/20/mp4", "recordings/20/poster.jpg"):
        with pytest.raises(KeyDestroyed, match=f"candidate {candidate.id}: the candidate key was destroyed on .* UTC"):
            store.open_range(key)
    # A copy of the object from an old backup, restored, is just as dead.
    shutil.copyfile(backup, backend.path("recordings/20/mp4"))
    with pytest.raises(KeyDestroyed):
        store.open("recordings/20/mp4")
    with pytest.raises(KeyDestroyed):
        put(store, "recordings/20/new", b"no new objects under a destroyed key", candidate)
    assert read(store, "recordings/21/mp4") == b"keep me"
    assert read(store, "exports/all.csv") == b"no candidate"
    row = m.CandidateKey.get(m.CandidateKey.candidate == candidate.id)
    assert row.wrapped is None and row.kek_version is None and row.destroyed_at is not None


def test_destroying_the_key_of_a_candidate_without_objects_blocks_new_ones(store):
    fresh = m.Candidate.create(organisation=default_organisation(), name="Fresh")
    assert keys.destroy_candidate_key(fresh.id) is True
    with pytest.raises(KeyDestroyed):
        put(store, "recordings/22/mp4", b"x", fresh)
    assert m.DataKey.select().count() == 0


def test_deleting_a_candidate_deletes_their_keys(store, candidate):
    put(store, "recordings/23/mp4", b"gone with the candidate", candidate)
    candidate.delete_instance()
    assert m.CandidateKey.select().count() == 0 and m.DataKey.select().count() == 0
    with pytest.raises(UnknownObject):
        store.open_range("recordings/23/mp4")


def test_key_tables_are_created_by_migration_two(db):
    from talentreel.server import schema

    assert 2 in schema.applied_versions(db)
    assert db.table_exists("candidate_key") and db.table_exists("data_key")
    schema._encryption_keys(db, None)  # idempotent: running it again changes nothing
    with pytest.raises(pw.IntegrityError):
        with db.atomic():
            c = m.Candidate.create(organisation=default_organisation(), name="dup")
            m.CandidateKey.create(candidate=c, kek_version=1, wrapped="a")
            m.CandidateKey.create(candidate=c, kek_version=1, wrapped="b")
