"""One contract, every storage backend: what the rest of TalentReel may rely on whichever is configured."""

from __future__ import annotations

import io
import os

import pytest

from talentreel.plugins.storage_local import LocalStorage
from test_storage_s3 import FailingStream, make_s3

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalStorage(str(tmp_path / "objects"))
    return make_s3(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))


@pytest.fixture(scope="module")
def data():
    return os.urandom(6 * MiB + 123)  # more than one part of the s3 backend's uploads


def test_put_returns_bytes_written_and_open_reads_them_back(backend, data):
    assert backend.put("recordings/1/original", io.BytesIO(data)) == len(data)
    with backend.open("recordings/1/original") as f:
        assert f.read() == data


def test_open_is_seekable_and_positions_like_a_file(backend, data):
    backend.put("k", io.BytesIO(data))
    with backend.open("k") as f:
        assert f.readable() and f.seekable()
        assert f.seek(5 * MiB) == 5 * MiB
        assert f.read(10) == data[5 * MiB:5 * MiB + 10] and f.tell() == 5 * MiB + 10
        assert f.seek(-10, io.SEEK_CUR) == 5 * MiB
        assert f.seek(-3, io.SEEK_END) == len(data) - 3
        assert f.read(100) == data[-3:]
        assert f.read(100) == b""  # at the end
        assert f.seek(len(data) + 10) == len(data) + 10 and f.read(1) == b""  # past the end, as a file
        f.seek(100)
        assert f.read(2 * MiB) == data[100:100 + 2 * MiB]
        with pytest.raises((OSError, ValueError)):
            f.seek(-1)


def test_empty_object(backend):
    assert backend.put("empty", io.BytesIO(b"")) == 0
    assert backend.exists("empty") and backend.size("empty") == 0
    assert backend.open("empty").read() == b""


def test_exists_size_delete(backend):
    assert not backend.exists("recordings/2/poster")
    backend.put("recordings/2/poster", io.BytesIO(b"png"))
    assert backend.exists("recordings/2/poster") and backend.size("recordings/2/poster") == 3
    backend.delete("recordings/2/poster")
    assert not backend.exists("recordings/2/poster")
    backend.delete("recordings/2/poster")  # already gone: not an error


def test_missing_object_is_file_not_found(backend):
    with pytest.raises(FileNotFoundError):
        backend.open("recordings/3/original")
    with pytest.raises(FileNotFoundError):
        backend.size("recordings/3/original")


def test_put_replaces(backend):
    backend.put("k", io.BytesIO(b"first version"))
    backend.put("k", io.BytesIO(b"second"))
    assert backend.open("k").read() == b"second" and backend.size("k") == 6


def test_a_failed_put_leaves_the_old_object(backend):
    backend.put("k", io.BytesIO(b"old"))
    with pytest.raises(ConnectionResetError):
        backend.put("k", FailingStream(6 * MiB))
    assert backend.open("k").read() == b"old"
    assert list(backend.keys()) == ["k"]


def test_a_failed_put_of_a_new_key_leaves_nothing(backend):
    with pytest.raises(ConnectionResetError):
        backend.put("new/key", FailingStream(6 * MiB))
    assert not backend.exists("new/key") and list(backend.keys()) == []


def test_keys_by_prefix(backend):
    for key in ("recordings/1/original", "recordings/1/poster", "recordings/10/original", "reports/1/media"):
        backend.put(key, io.BytesIO(b"x"))
    assert list(backend.keys("recordings/1/")) == ["recordings/1/original", "recordings/1/poster"]
    assert sorted(backend.keys()) == ["recordings/1/original", "recordings/1/poster", "recordings/10/original", "reports/1/media"]


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a//b", "../escape", "a/../../b", "a/./b", "a\\b", "trailing/"])
def test_keys_that_could_escape_are_refused(backend, key):
    for call in (lambda: backend.put(key, io.BytesIO(b"x")), lambda: backend.open(key),
                 lambda: backend.exists(key), lambda: backend.size(key), lambda: backend.delete(key)):
        with pytest.raises(ValueError, match="invalid storage key"):
            call()
