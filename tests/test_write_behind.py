"""WriteBehind: the writes in a thread of their own (the media job decrypts originals through it)."""

from __future__ import annotations

import os
import threading

import pytest

from talentreel.server.write_behind import WriteBehind, write_all


def test_batches_are_written_in_order(tmp_path):
    path = tmp_path / "out"
    batches = [[os.urandom(n) for n in (0, 1, 65536, 7)] for _ in range(50)]
    with open(path, "wb", buffering=0) as out, WriteBehind(out.fileno(), depth=2) as behind:
        for batch in batches:
            behind.submit(batch)
    assert path.read_bytes() == b"".join(b"".join(batch) for batch in batches)
    assert behind.total == path.stat().st_size


def test_a_failed_write_reaches_the_caller(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"")
    with open(path, "rb", buffering=0) as readonly:  # every write fails: EBADF
        with pytest.raises(OSError):
            with WriteBehind(readonly.fileno(), depth=1) as behind:
                for _ in range(100):  # submit raises once the writer has failed, else close does
                    behind.submit([b"x" * 1024])
    assert not behind._thread.is_alive()


def test_the_callers_error_stops_the_writer(tmp_path):
    with open(tmp_path / "out", "wb", buffering=0) as out:
        with pytest.raises(ValueError, match="decrypting failed"):
            with WriteBehind(out.fileno()) as behind:
                behind.submit([b"first"])
                raise ValueError("decrypting failed")
    assert not behind._thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "write-behind"]


def test_write_all_resumes_after_a_partial_write(tmp_path, monkeypatch):
    real = os.writev
    monkeypatch.setattr(os, "writev", lambda fd, buffers: real(fd, [memoryview(buffers[0])[:3]]))  # 3 bytes a call
    with open(tmp_path / "out", "wb", buffering=0) as out:
        assert write_all(out.fileno(), [b"abcdefg", b"", b"hij"]) == 10
    assert (tmp_path / "out").read_bytes() == b"abcdefghij"
