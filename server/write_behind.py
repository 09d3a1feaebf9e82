"""Writing a file from a thread of its own while the caller prepares what comes next.

Decrypting a stored object into a file alternates work that holds the GIL (AES-GCM, reading and
checking segments) with writes that do not (the kernel copying the bytes into the page cache,
about a third of the time). WriteBehind hands the writes to a thread, so with a core to spare the
two overlap: the media job's decrypt of a 58 MB original took 25 ms written inline and 18 ms
written behind.

Not used for encrypting into storage: there the writer thread waited for the GIL behind the
encryption's long holds (AES-GCM does not release it) and a 60 MB put became slower, 25 -> 27 ms.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from typing import Sequence

DEPTH = 4
"""Batches queued ahead of the writer: enough to ride out a slow write, little memory."""


def write_all(fd: int, buffers: Sequence) -> int:
    """Write every buffer, in order, with as few writev calls as the kernel allows; returns the
    bytes written."""
    buffers = [b for b in buffers if len(b)]
    total = 0
    while buffers:
        written = os.writev(fd, buffers)
        if not written:
            raise OSError(errno.ENOSPC, "the file system took no more bytes")
        total += written
        while buffers and written >= len(buffers[0]):  # a regular file takes all unless the disk is full
            written -= len(buffers[0])
            buffers = buffers[1:]
        if buffers and written:
            buffers = [memoryview(buffers[0])[written:]] + buffers[1:]
    return total


class WriteBehind:
    """Writes batches of buffers to `fd` in submission order, in a thread.

        with WriteBehind(fd) as behind:
            behind.submit([chunk, chunk])  # bytes, or buffers left unchanged from now on
        # here every byte was written, or the writer's error was raised
    """

    def __init__(self, fd: int, depth: int = DEPTH):
        self._fd = fd
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.total = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="write-behind")
        self._thread.start()

    def submit(self, buffers: Sequence) -> None:
        """Queue the buffers for writing; waits while `depth` batches are queued. Raises the
        writer's error if an earlier write failed (a full disk stops the caller early)."""
        self._raise_error()
        self._queue.put(buffers)

    def close(self) -> None:
        """Wait for every queued write; raise the writer's error if one failed."""
        self._stop()
        self._raise_error()

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (buffers := self._queue.get()) is not None:
            if self._error is not None:
                continue  # after a failure, only drain: the caller must not wait on a full queue
            try:
                self.total += write_all(self._fd, buffers)
            except BaseException as exc:  # handed to the caller by submit() or close()
                self._error = exc

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        if kind is None:
            self.close()
        else:  # the caller failed: its error is the one to see; the writer stops after the queue
            self._stop()
