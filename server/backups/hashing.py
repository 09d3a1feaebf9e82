"""A reader that hashes and counts what passes through it, so a file's checksum is computed
while it is written to the target, not by reading it twice."""

from __future__ import annotations

import hashlib
import io

CHUNK = 1024 * 1024


class HashingReader(io.RawIOBase):
    def __init__(self, src):
        super().__init__()
        self._src = src
        self._hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._src.read(len(view))
        if not data:
            return 0
        view[:len(data)] = data
        self._hash.update(data)
        self.count += len(data)
        return len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def file_digest(fileobj) -> tuple[int, str]:
    """(bytes, sha256) of everything left in fileobj."""
    digest, count = hashlib.sha256(), 0
    while True:
        chunk = fileobj.read(CHUNK)
        if not chunk:
            return count, digest.hexdigest()
        digest.update(chunk)
        count += len(chunk)
