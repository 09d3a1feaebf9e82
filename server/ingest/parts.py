"""Part files: the bytes of uploads in progress, under DATA_DIR/uploads/.

A part file is named `<token>.part` after the upload's random token, never after anything the
client sent. Bytes are streamed from the request in fixed blocks, so memory stays flat whatever
the size, and are reported durable only after fsync: the database's offset never runs ahead of
the disk. One writer at a time holds an exclusive flock on the part file; flock (not a lock
table) because it is released by the kernel when a process dies mid-upload.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO, Callable

UPLOADS_DIRNAME = "uploads"
"""Sub-directory of the data directory holding part files."""

BLOCK_BYTES = 1024 * 1024
"""Bytes read from the request and written per step: the upload's whole memory footprint."""

CHECKPOINT_BYTES = 32 * 1024 * 1024
"""Within one long PATCH, fsync and record the offset this often, so a crash of the server loses
at most this much; a client that merely disconnects loses nothing already received."""

PART_NAME_RE = re.compile(r"^([0-9a-f]{32})\.part$")


class PartBusy(Exception):
    """Another request is writing this part file."""


class BodyInterrupted(Exception):
    """Reading the request body failed: the client went away, or went silent past the timeout."""


class TooLarge(Exception):
    """The body went past the upload's declared length."""


class ChecksumMismatch(Exception):
    """The body's digest differs from the Upload-Checksum the client sent."""


def uploads_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir, UPLOADS_DIRNAME)


def part_path(data_dir: str | os.PathLike, token: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", token):  # tokens are ours; anything else is a bug, not a path
        raise ValueError(f"not an upload token: {token!r}")
    return uploads_dir(data_dir) / f"{token}.part"


def create(path: Path) -> None:
    """An empty part file, private to the server; the directory entry is made durable too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    _fsync_dir(path.parent)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartFile:
    """An open, exclusively locked part file: `with PartFile(path) as part: part.receive(...)`.

    Raises PartBusy when another writer holds it, FileNotFoundError when it is gone.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> "PartFile":
        self.fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise PartBusy(str(self.path)) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None

    def receive(self, stream: BinaryIO, start: int, limit: int, on_durable: Callable[[int], None],
                checksum: tuple[str, bytes] | None = None) -> int:
        """Write the stream's bytes at `start`, at most `limit` of them; return the new offset.

        on_durable(offset) is called after each fsync, at checkpoints and at the end, including
        when reading the stream fails (a dropped connection): every byte received is kept, and the
        error is raised again. With a checksum (algorithm, digest) the body is all or nothing: no
        checkpoints, and on a mismatch or a failure the file goes back to `start`.
        TooLarge when the body has more than `limit` bytes: nothing of this body is kept.
        """
        assert self.fd is not None
        fd = self.fd
        # Bytes past the durable offset were never confirmed to anyone: a resumed upload overwrites them.
        os.ftruncate(fd, start)
        os.lseek(fd, start, os.SEEK_SET)
        digest = hashlib.new(checksum[0]) if checksum else None
        offset, unsynced = start, 0
        try:
            while True:
                # One byte beyond the limit tells a body that is too long from one that ends there.
                try:
                    block = stream.read(min(BLOCK_BYTES, limit - (offset - start) + 1))
                except Exception as exc:  # the WSGI server's own disconnect and timeout errors vary
                    raise BodyInterrupted(f"after {offset} bytes: {exc!r}") from exc
                if not block:
                    break
                if offset - start + len(block) > limit:
                    raise TooLarge(f"body exceeds {limit} bytes")
                _write_all(fd, block)
                if digest is not None:
                    digest.update(block)
                offset += len(block)
                unsynced += len(block)
                if digest is None and unsynced >= CHECKPOINT_BYTES:
                    os.fsync(fd)
                    on_durable(offset)
                    unsynced = 0
        except TooLarge:
            self._rewind(start, on_durable)
            raise
        except BaseException:
            if digest is not None:
                self._rewind(start, on_durable)
            else:
                os.fsync(fd)
                on_durable(offset)
            raise
        if digest is not None and digest.digest() != checksum[1]:
            self._rewind(start, on_durable)
            raise ChecksumMismatch(checksum[0])
        os.fsync(fd)
        on_durable(offset)
        return offset

    def _rewind(self, start: int, on_durable: Callable[[int], None]) -> None:
        os.ftruncate(self.fd, start)
        os.fsync(self.fd)
        on_durable(start)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
