"""An MP4's index moved in front of its data while the file is read once: ffmpeg's
`-movflags +faststart` (and qt-faststart) without a second pass over the file.

ffmpeg writes the index (moov) last, once it knows every sample. A browser needs it first to
start playing and seeking without fetching the end of the file, so +faststart makes ffmpeg
reread and rewrite the whole file after the copy: on a remux that second pass is about a third
of ffmpeg's time. The media job reads video.mp4 in full anyway, to encrypt it into storage, so
`open_faststart` hands that read the bytes in faststart order instead:

    as written:  ftyp | free | mdat | moov
    as read:     ftyp | moov' | free | mdat

moov' is moov with every chunk offset (stco, co64) raised by moov's size, since everything after
ftyp moves down by that much. This is the order and the content ffmpeg's own +faststart writes
(the tests compare the bytes).

Only that layout is moved: ftyp first, then free/skip/wide boxes and one mdat, moov last, chunk
offsets in stco or co64 that all point into the mdat and stay below 2^32 in stco, and nothing else
in moov that points into the file. Any other file raises Unusual (`relocation`), and the media
engine then has ffmpeg make it faststart itself; a moov already in front needs nothing.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
"""The boxes on the way from moov down to the chunk offset tables."""

PADDING = {b"free", b"skip", b"wide"}

POINTERS_ELSEWHERE = (b"saio", b"iloc", b"mvex", b"moof", b"tfra")
"""Boxes holding other offsets into the file (encryption info, items) or belonging to a fragmented
file. Looked for anywhere in moov as bytes: a chance match in other data only costs the slower
way, never a wrong file."""

MAX_MOOV_BYTES = 64 * 1024 * 1024
"""A ten-hour recording's moov is a few tens of MB; more than this is not a file of ours."""

MAX_STCO = 0xFFFFFFFF


class Unusual(Exception):
    """The file is not laid out as this module expects; let ffmpeg make it faststart."""


@dataclass(frozen=True)
class Relocation:
    """How to read a moov-last file in faststart order: bytes [0, ftyp_end) of the file, then
    `moov` (patched), then bytes [ftyp_end, moov_start) of the file."""

    ftyp_end: int
    moov_start: int
    moov: bytes

    @property
    def size(self) -> int:
        return self.moov_start + len(self.moov)


def _header(data: bytes, offset: int, end: int) -> tuple[bytes, int, int]:
    """(type, header size, box size) of the box at `offset` in data[:end]."""
    if offset + 8 > end:
        raise Unusual(f"box header cut off at {offset}")
    size, kind = struct.unpack_from(">I4s", data, offset)
    header = 8
    if size == 1:
        if offset + 16 > end:
            raise Unusual(f"large box header cut off at {offset}")
        (size,) = struct.unpack_from(">Q", data, offset + 8)
        header = 16
    elif size == 0:
        size = end - offset  # runs to the end of its parent
    if size < header or offset + size > end:
        raise Unusual(f"box {kind!r} at {offset} claims {size} bytes, past its parent's end")
    return kind, header, size


def _top_level(fh: BinaryIO, file_size: int) -> list[tuple[bytes, int, int, int]]:
    """(type, offset, header size, size) of each top-level box, from the box headers only."""
    boxes, offset = [], 0
    while offset < file_size:
        fh.seek(offset)
        kind, header, size = _header(fh.read(16), 0, file_size - offset)
        boxes.append((kind, offset, header, size))
        offset += size
    return boxes


def _shift_offsets(moov: bytearray, delta: int, data_start: int, data_end: int) -> int:
    """Raise every chunk offset in moov's stco and co64 boxes by `delta`, in place; return how
    many tables were changed. Offsets must point into [data_start, data_end) (the mdat's data)."""
    tables = 0

    def walk(start: int, end: int) -> None:
        nonlocal tables
        offset = start
        while offset < end:
            kind, header, size = _header(moov, offset, end)
            body = offset + header
            if kind in CONTAINERS:
                walk(body, offset + size)
            elif kind in (b"stco", b"co64"):
                width = 4 if kind == b"stco" else 8
                if size - header < 8:
                    raise Unusual(f"{kind!r} box too short")
                (count,) = struct.unpack_from(">I", moov, body + 4)  # after version and flags
                if 8 + count * width != size - header:
                    raise Unusual(f"{kind!r} box holds {size - header} bytes for {count} entries")
                # numpy: a ten-minute recording has tens of thousands of chunks (3 ms in Python)
                entries = numpy.frombuffer(moov, dtype=f">u{width}", count=count, offset=body + 8)
                if count and (int(entries.min()) < data_start or int(entries.max()) >= data_end):
                    raise Unusual(f"a chunk offset in {kind!r} points outside the media data")
                if kind == b"stco" and count and int(entries.max()) + delta > MAX_STCO:
                    raise Unusual("chunk offsets would overflow stco (a file past 4 GiB)")
                entries += delta  # in place, in moov: no overflow, checked above (co64 has 2^64)
                tables += 1
            offset += size

    kind, header, size = _header(moov, 0, len(moov))
    walk(header, size)
    return tables


def relocation(path) -> Relocation | None:
    """How to read the MP4 at `path` in faststart order; None when its moov is already before its
    mdat. Reads the box headers and the moov only. Raises Unusual for any other layout."""
    with open(path, "rb") as fh:
        boxes = _top_level(fh, os.fstat(fh.fileno()).st_size)
        kinds = [kind for kind, _, _, _ in boxes]
        named = [kind.decode("latin-1") for kind in kinds]
        if kinds.count(b"moov") != 1 or kinds.count(b"mdat") != 1 or kinds[0] != b"ftyp":
            raise Unusual(f"top-level boxes {named}")
        if kinds.index(b"moov") < kinds.index(b"mdat"):
            return None
        if kinds[-1] != b"moov" or any(kind not in PADDING | {b"mdat"} for kind in kinds[1:-1]):
            raise Unusual(f"top-level boxes {named}")
        _, moov_start, _, moov_size = boxes[-1]
        if moov_size > MAX_MOOV_BYTES:
            raise Unusual(f"moov of {moov_size} bytes")
        fh.seek(moov_start)
        moov = bytearray(fh.read(moov_size))
    if len(moov) != moov_size:
        raise Unusual("moov cut off")
    if any(marker in moov for marker in POINTERS_ELSEWHERE):
        raise Unusual("moov holds offsets other than chunk offsets, or the file is fragmented")
    _, mdat_start, mdat_header, mdat_size = boxes[kinds.index(b"mdat")]
    if _shift_offsets(moov, moov_size, mdat_start + mdat_header, mdat_start + mdat_size) == 0:
        raise Unusual("moov has no chunk offset table")
    return Relocation(ftyp_end=boxes[0][3], moov_start=moov_start, moov=bytes(moov))


class _FaststartReader(io.RawIOBase):
    """Reads a moov-last file as described by a Relocation: pieces of the file and the new moov,
    one after the other, without copying the file's bytes more than once."""

    def __init__(self, fh: BinaryIO, plan: Relocation):
        super().__init__()
        self._fh = fh
        # (bytes, None) for data in memory, (start, end) for a range of the file.
        self._pieces = [(0, plan.ftyp_end), (plan.moov, None), (plan.ftyp_end, plan.moov_start)]
        self._at = 0  # position within the current piece

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pieces:
            first, second = self._pieces[0]
            if second is None:  # in memory
                chunk = memoryview(first)[self._at:self._at + len(view) - filled]
                view[filled:filled + len(chunk)] = chunk
                n = len(chunk)
                done = self._at + n >= len(first)
            else:
                want = min(len(view) - filled, second - first - self._at)
                self._fh.seek(first + self._at)
                n = self._fh.readinto(view[filled:filled + want]) if want else 0
                if want and not n:
                    raise Unusual("the file shrank while it was read")
                done = self._at + n >= second - first
            filled += n
            self._at += n
            if done:
                self._pieces.pop(0)
                self._at = 0
        return filled

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def open_faststart(path) -> BinaryIO:
    """The MP4 at `path` opened for reading in faststart order (see the module docstring);
    as it is when its moov is already first. Raises Unusual for a layout it cannot move."""
    return open_relocated(path, relocation(path))


def open_relocated(path, plan: Relocation | None) -> BinaryIO:
    """As open_faststart, with the plan `relocation(path)` returned earlier (None: read as it is)."""
    fh = open(path, "rb")
    if plan is None:
        return fh
    return io.BufferedReader(_FaststartReader(fh, plan), buffer_size=1024 * 1024)
