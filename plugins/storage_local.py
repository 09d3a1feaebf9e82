"""Built-in storage backend `local`: objects as files under one directory, with an optional cold tier.

Keys are server-generated (``recordings/12/original``); they are still checked so that no key can
name a path outside the root. Writes go to a temporary file renamed into place, so a crash never
leaves a half-written object under its final name.

Tiers: with `storage_cold_path` set, `set_tier(key, "cold")` moves an object to that second root
(typically a larger, cheaper mount) and back. Reads look in the hot root first, then the cold one,
so a cold object stays readable where it is. The two roots may be different filesystems, so a move
copies into a temporary file, fsyncs, renames it into place and only then removes the source: a
crash in between leaves two identical copies, never none.
"""

from __future__ import annotations

import ctypes
import functools
import os
import tempfile
from pathlib import Path
from typing import Callable

from talentreel.server import libc
from talentreel.server.plugins import hookimpl

COPY_BUFFER = 1024 * 1024
WRITEBACK_BYTES = 8 * 1024 * 1024
"""While an object is written, every this many bytes are handed to the disk without waiting
(sync_file_range), so that the fsync at the end waits for the last few MB instead of the whole
object: storing a 60 MB video, 25-30 ms of fsync became 3-9 ms, the writing overlapping with the
encryption of what follows."""
SYNC_FILE_RANGE_WRITE = 2
PART_PREFIX = ".part-"
TIERS = ("hot", "cold")


class LocalStorage:
    name = "local"

    def __init__(self, root: str, cold_root: str | None = None):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.cold_root = Path(cold_root).resolve() if cold_root else None
        if self.cold_root is not None:
            self.cold_root.mkdir(parents=True, exist_ok=True)

    def _checked(self, key: str) -> str:
        if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"invalid storage key {key!r}")
        return key

    def path(self, key: str) -> Path:
        """Where the object is now: hot root first, then cold; the hot path when it is nowhere."""
        hot = self.root / self._checked(key)
        if not hot.is_file() and self.cold_root is not None:
            cold = self.cold_root / key
            if cold.is_file():
                return cold
        return hot

    @staticmethod
    def _write(target: Path, fileobj) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=PART_PREFIX)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                written = _copy(fileobj, out)
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def put(self, key: str, fileobj) -> int:
        """Store the stream under key (replacing any old object, in either tier); return the bytes
        written. New objects are hot."""
        written = self._write(self.root / self._checked(key), fileobj)
        if self.cold_root is not None:
            (self.cold_root / key).unlink(missing_ok=True)
        return written

    def open(self, key: str):
        return open(self.path(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        (self.root / self._checked(key)).unlink(missing_ok=True)
        if self.cold_root is not None:
            (self.cold_root / key).unlink(missing_ok=True)

    def keys(self, prefix: str = ""):
        seen = set()
        for base in (self.root, self.cold_root):
            if base is None:
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and not path.name.startswith(PART_PREFIX):
                    key = path.relative_to(base).as_posix()
                    if key.startswith(prefix) and key not in seen:
                        seen.add(key)
                        yield key

    def tier(self, key: str) -> str:
        hot = self.root / self._checked(key)
        if hot.is_file():
            return "hot"
        if self.cold_root is not None and (self.cold_root / key).is_file():
            return "cold"
        raise FileNotFoundError(key)

    def set_tier(self, key: str, tier: str) -> None:
        """Move the object to `tier`; without a cold root there is one tier and this does nothing."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected hot or cold")
        if self.cold_root is None:
            return
        current = self.tier(key)
        source_root, target_root = (self.root, self.cold_root) if tier == "cold" else (self.cold_root, self.root)
        source, target = source_root / key, target_root / key
        if current != tier:
            with open(source, "rb") as fh:
                self._write(target, fh)
        source.unlink(missing_ok=True)  # also tidies a copy a crash left behind


def _copy(fileobj, out) -> int:
    """Copy the stream into the unbuffered file `out` through one reused buffer (readinto: no new
    bytes object per read), starting the disk writes as it goes (WRITEBACK_BYTES); returns the
    bytes written. Durable only after the caller's fsync."""
    buffer = memoryview(bytearray(COPY_BUFFER))
    readinto = getattr(fileobj, "readinto", None)
    writeback = _writeback()
    written = handed = 0
    while True:
        chunk = buffer[:readinto(buffer) or 0] if readinto is not None else memoryview(fileobj.read(COPY_BUFFER))
        if not chunk:
            return written
        written += len(chunk)
        while chunk:  # a raw write may take less than it is given
            chunk = chunk[out.write(chunk):]
        if writeback is not None and written - handed >= WRITEBACK_BYTES:
            writeback(out.fileno(), handed, written - handed)
            handed = written


@functools.lru_cache(maxsize=1)
def _writeback() -> Callable[[int, int, int], None] | None:
    """A function starting the disk writes of a byte range of a file without waiting for them
    (Linux's sync_file_range); None where there is none. Only a hint: a failure is ignored, as
    the fsync that follows makes the object durable either way."""
    function = libc.function("sync_file_range")
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def writeback(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, SYNC_FILE_RANGE_WRITE)

    return writeback


@hookimpl
def talentreel_storage_backends():
    return {"local": lambda settings: LocalStorage(settings["storage_path"], settings.get("storage_cold_path") or None)}
