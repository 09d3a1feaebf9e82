"""`talentreel keys rotate`: re-wrapping under the newest KEK, interrupted by an error or by
kill -9 in a real process, then finished by a rerun, without touching stored media."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import subprocess
import sys
import time

import pytest

from talentreel.plugins.storage_local import LocalStorage
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.encryption import EncryptedStore, KeyDestroyed, KeyUnavailable, Keyring, key_usage, rotate
from talentreel.server.encryption import keys

CANDIDATES = 30
LOOSE_OBJECTS = 10  # objects of no candidate: their data keys are wrapped by the KEK directly


@pytest.fixture
def keyring(data_dir):
    return Keyring.load(data_dir, mode="embedded", environ={})


@pytest.fixture
def store(db, data_dir, keyring):
    return EncryptedStore(LocalStorage(str(data_dir / "objects")), keyring, segment_size=1024)


@pytest.fixture
def objects(store):
    """{storage key: plaintext}, stored under KEK version 1."""
    org = default_organisation()
    stored = {}
    for i in range(CANDIDATES):
        candidate = m.Candidate.create(organisation=org, name=f"candidate {i}")
        for part in ("mp4", "poster.jpg"):
            stored[f"recordings/{i}/{part}"] = os.urandom(1500 + i)
            store.put(f"recordings/{i}/{part}", io.BytesIO(stored[f"recordings/{i}/{part}"]), candidate_id=candidate.id)
    for i in range(LOOSE_OBJECTS):
        stored[f"exports/{i}.csv"] = f"export {i}".encode()
        store.put(f"exports/{i}.csv", io.BytesIO(stored[f"exports/{i}.csv"]))
    return stored


def storage_state(store) -> dict:
    backend = store.backend
    return {key: (hashlib.sha256(backend.path(key).read_bytes()).hexdigest(), backend.path(key).stat().st_mtime_ns) for key in backend.keys()}


def assert_all_readable(store, objects):
    for key, plaintext in objects.items():
        with store.open_range(key) as chunks:
            assert b"".join(chunks) == plaintext, key


def versions_in_use() -> dict:
    return key_usage()["kek_versions"]


def test_rotation_rewraps_every_kek_wrapped_key_and_no_media(store, keyring, objects, data_dir):
    assert versions_in_use() == {1: {"candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS}}
    before_media = storage_state(store)
    candidate_wrapped = {r.id: r.wrapped for r in m.DataKey.select().where(m.DataKey.candidate_key.is_null(False))}
    assert keyring.add_version() == 2

    result = rotate(keyring, batch_size=7)
    assert result.as_dict() == {"kek_version": 2, "candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS, "remaining": 0}
    assert versions_in_use() == {2: {"candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS}}
    assert storage_state(store) == before_media
    # Data keys under candidate keys are untouched: the candidate keys themselves did not change.
    assert {r.id: r.wrapped for r in m.DataKey.select().where(m.DataKey.candidate_key.is_null(False))} == candidate_wrapped
    assert_all_readable(store, objects)
    # Version 1 is no longer needed: a keyring without it reads everything.
    only_new = Keyring({2: base64.b64decode((data_dir / "keys" / "kek-2.key").read_text())})
    assert_all_readable(EncryptedStore(store.backend, only_new), objects)
    assert rotate(keyring).as_dict() == {"kek_version": 2, "candidate_keys": 0, "data_keys": 0, "remaining": 0}


def test_rotation_interrupted_by_an_error_finishes_on_rerun(store, keyring, objects, monkeypatch):
    keyring.add_version()
    real_wrap = keyring.wrap
    calls = []

    def failing_wrap(*args, **kwargs):
        calls.append(1)
        if len(calls) > 7:
            raise RuntimeError("simulated crash during rotation")
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(keyring, "wrap", failing_wrap)
    with pytest.raises(RuntimeError, match="simulated crash"):
        rotate(keyring, batch_size=3)
    monkeypatch.undo()
    # Two batches of three committed; the third rolled back.
    assert versions_in_use() == {1: {"candidate_keys": CANDIDATES - 6, "data_keys": LOOSE_OBJECTS}, 2: {"candidate_keys": 6, "data_keys": 0}}
    assert_all_readable(store, objects)

    result = rotate(keyring, batch_size=3)
    assert (result.candidate_keys, result.data_keys, result.remaining) == (CANDIDATES - 6, LOOSE_OBJECTS, 0)
    assert versions_in_use() == {2: {"candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS}}
    assert_all_readable(store, objects)


CHILD = r"""
import sys, time
from talentreel.server import db as dbmod
from talentreel.server.encryption import Keyring, rotate

dbmod.database.initialize(dbmod.open_database(sys.argv[1]))
keyring = Keyring.load(sys.argv[2], environ={})
real_wrap = keyring.wrap

def slow_wrap(*args, **kwargs):
    time.sleep(0.02)  # so that the kill lands inside a batch's transaction
    return real_wrap(*args, **kwargs)

keyring.wrap = slow_wrap
rotate(keyring, batch_size=5, progress=lambda r: print("batch", r.candidate_keys, r.data_keys, flush=True))
print("finished", flush=True)
"""


def test_rotation_killed_with_sigkill_midway_finishes_on_rerun(store, keyring, objects, database_url, data_dir, db):
    keyring.add_version()
    before_media = storage_state(store)
    db.close()  # the child must not wait on a connection of ours
    child = subprocess.Popen([sys.executable, "-c", CHILD, database_url, str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        batches = [child.stdout.readline() for _ in range(2)]
        assert all(line.startswith("batch") for line in batches), (batches, child.stderr.read() if child.poll() is not None else "")
        time.sleep(0.05)  # about halfway into the third batch
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    rest = child.stdout.read()
    assert child.returncode == -signal.SIGKILL and "finished" not in rest

    usage = versions_in_use()
    assert set(usage) == {1, 2}, usage  # stopped midway: some keys moved, some not
    assert usage[2]["candidate_keys"] % 5 == 0  # whole batches only
    assert_all_readable(store, objects)

    result = rotate(keyring)
    assert result.remaining == 0 and result.candidate_keys + result.data_keys > 0
    assert versions_in_use() == {2: {"candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS}}
    assert_all_readable(store, objects)
    assert storage_state(store) == before_media


def test_a_key_destroyed_during_rotation_stays_destroyed(store, keyring, objects):
    keyring.add_version()
    victim = m.Candidate.select().order_by(m.Candidate.id.desc()).first()

    def destroy_after_first_batch(result):
        if result.candidate_keys == 5:
            keys.destroy_candidate_key(victim.id)

    rotate(keyring, batch_size=5, progress=destroy_after_first_batch)
    row = m.CandidateKey.get(m.CandidateKey.candidate == victim.id)
    assert row.wrapped is None and row.destroyed_at is not None
    with pytest.raises(KeyDestroyed):
        store.open_range(f"recordings/{CANDIDATES - 1}/mp4")
    assert key_usage()["destroyed_candidate_keys"] == 1
    assert versions_in_use() == {2: {"candidate_keys": CANDIDATES - 1, "data_keys": LOOSE_OBJECTS}}


def test_rotation_stops_cleanly_when_an_old_kek_is_missing(store, keyring, objects, data_dir):
    keyring.add_version()
    (data_dir / "keys" / "kek-1.key").rename(data_dir / "kek-1.key.moved")
    without_v1 = Keyring.load(data_dir, environ={})
    with pytest.raises(KeyUnavailable, match="key-encryption key version 1 is not configured"):
        rotate(without_v1)
    assert versions_in_use() == {1: {"candidate_keys": CANDIDATES, "data_keys": LOOSE_OBJECTS}}
    (data_dir / "kek-1.key.moved").rename(data_dir / "keys" / "kek-1.key")
    assert rotate(without_v1).remaining == 0
    assert_all_readable(store, objects)
