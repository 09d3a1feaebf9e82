"""The on-disk format of an encrypted object, version 1 (docs/encryption.md is the specification).

    object    = header || segment_0 || ... || segment_(n-1)
    header    = "TREN" | version=1 | algorithm=1 | segment_size u32 | object_id[16]
                | nonce_prefix[7] | header_tag[16]                                   (49 bytes)
    segment_i = AES-256-GCM(data key, nonce = nonce_prefix | i u32 | flag u8, aad = header)
                flag 1 on the last segment, 0 on the others; the header tag uses flag 2

The plaintext is cut into segments of `segment_size` bytes (the last one holds 1..segment_size bytes;
an empty plaintext is one empty final segment), so any byte range decrypts by reading only the
segments it touches. Because the nonce carries the index and the final flag and every segment
authenticates the whole header (object id, segment size, nonce prefix), a segment that is moved,
dropped, added, or taken from another object fails its tag; a segment's plaintext is only returned
after its tag verified. All sizes are big-endian.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import IntegrityError

MAGIC = b"TREN"
FORMAT_VERSION = 1
ALGORITHM_AES256GCM_SEGMENTS = 1
"""AES-256-GCM over fixed-size segments, 7-byte nonce prefix, 4-byte index, 1-byte flag."""

DEFAULT_SEGMENT_SIZE = 64 * 1024
"""Plaintext bytes per segment: a 64 KiB range costs about one AES-GCM operation."""

MAX_SEGMENT_SIZE = 16 * 1024 * 1024
"""Upper bound accepted from a header, so a reader's memory stays bounded whatever it is given."""

KEY_SIZE = 32
OBJECT_ID_SIZE = 16
NONCE_PREFIX_SIZE = 7
TAG_SIZE = 16
MAX_SEGMENTS = 2**32  # the index is a u32 inside the nonce

FLAG_MORE, FLAG_FINAL, FLAG_HEADER = 0, 1, 2

_HEADER_BODY = struct.Struct(">4sBBI16s7s")
HEADER_SIZE = _HEADER_BODY.size + TAG_SIZE  # 49
_NONCE_TAIL = struct.Struct(">IB")


@dataclass(frozen=True)
class Header:
    """The parsed header; `raw` is its 49 bytes exactly as stored (the segments' AAD)."""

    segment_size: int
    object_id: bytes
    nonce_prefix: bytes
    tag: bytes

    @property
    def body(self) -> bytes:
        return _HEADER_BODY.pack(MAGIC, FORMAT_VERSION, ALGORITHM_AES256GCM_SEGMENTS, self.segment_size, self.object_id, self.nonce_prefix)

    @property
    def raw(self) -> bytes:
        return self.body + self.tag

    def nonce(self, index: int, flag: int) -> bytes:
        return self.nonce_prefix + _NONCE_TAIL.pack(index, flag)

    # --- layout: where segments are, and sizes, from arithmetic alone ---

    def segment_count(self, plaintext_size: int) -> int:
        return max(1, -(-plaintext_size // self.segment_size))

    def segment_offset(self, index: int) -> int:
        return HEADER_SIZE + index * (self.segment_size + TAG_SIZE)

    def ciphertext_size(self, plaintext_size: int) -> int:
        return HEADER_SIZE + plaintext_size + self.segment_count(plaintext_size) * TAG_SIZE

    def plaintext_size(self, ciphertext_size: int, object_name: str) -> int:
        """The plaintext size a ciphertext of this size holds; a size the encoder cannot produce
        means bytes were cut off or added, which is reported before anything is decrypted."""
        body = ciphertext_size - HEADER_SIZE
        full, rest = divmod(body, self.segment_size + TAG_SIZE)
        if body >= TAG_SIZE and rest == 0:
            return full * self.segment_size
        if body >= TAG_SIZE and (rest > TAG_SIZE or (rest == TAG_SIZE and full == 0)):
            return full * self.segment_size + rest - TAG_SIZE
        raise IntegrityError(
            f"object {object_name}: {ciphertext_size} bytes is not a possible size for segments of "
            f"{self.segment_size} bytes (truncated or extended)",
            object_name=object_name,
        )


def new_object_id() -> bytes:
    return os.urandom(OBJECT_ID_SIZE)


def parse_header(raw: bytes, object_name: str) -> Header:
    """Split the 49 header bytes into fields. Nothing is trusted until ObjectCipher verified the tag."""
    if len(raw) < HEADER_SIZE:
        raise IntegrityError(f"object {object_name}: header is {len(raw)} bytes, expected {HEADER_SIZE} (truncated)", object_name=object_name)
    magic, version, algorithm, segment_size, object_id, nonce_prefix = _HEADER_BODY.unpack_from(raw)
    if magic != MAGIC:
        raise IntegrityError(f"object {object_name}: not an encrypted TalentReel object (magic {magic!r})", object_name=object_name)
    if version != FORMAT_VERSION or algorithm != ALGORITHM_AES256GCM_SEGMENTS:
        raise IntegrityError(
            f"object {object_name}: unsupported format version {version} / algorithm {algorithm}", object_name=object_name
        )
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise IntegrityError(f"object {object_name}: header names segment size {segment_size}, outside 1..{MAX_SEGMENT_SIZE}", object_name=object_name)
    return Header(segment_size, object_id, nonce_prefix, raw[_HEADER_BODY.size:HEADER_SIZE])


def read_header(fileobj: BinaryIO, object_name: str) -> Header:
    fileobj.seek(0)
    return parse_header(read_exactly(fileobj, HEADER_SIZE), object_name)


class ObjectCipher:
    """One object's data key bound to its header. Constructing it from a stored header verifies
    the header tag, so every later decision (segment size, offsets) rests on authenticated data."""

    def __init__(self, data_key: bytes, header: Header, object_name: str | None = None):
        if len(data_key) != KEY_SIZE:
            raise ValueError(f"data key must be {KEY_SIZE} bytes")
        self.header = header
        self.object_name = object_name or header.object_id.hex()
        self._aead = AESGCM(data_key)
        self._aad = header.raw
        try:
            self._aead.decrypt(header.nonce(0, FLAG_HEADER), header.tag, header.body)
        except InvalidTag:
            raise IntegrityError(
                f"object {self.object_name}: header failed authentication (altered, or the header of another object)",
                object_name=self.object_name,
            ) from None

    @classmethod
    def create(cls, data_key: bytes, object_id: bytes, *, segment_size: int = DEFAULT_SEGMENT_SIZE,
               nonce_prefix: bytes | None = None, object_name: str | None = None) -> "ObjectCipher":
        """A cipher for a new object; nonce_prefix is random unless given (test vectors fix it)."""
        if len(object_id) != OBJECT_ID_SIZE:
            raise ValueError(f"object id must be {OBJECT_ID_SIZE} bytes")
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment size must be within 1..{MAX_SEGMENT_SIZE}")
        nonce_prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else nonce_prefix
        if len(nonce_prefix) != NONCE_PREFIX_SIZE:
            raise ValueError(f"nonce prefix must be {NONCE_PREFIX_SIZE} bytes")
        unsigned = Header(segment_size, object_id, nonce_prefix, b"")
        tag = AESGCM(data_key).encrypt(unsigned.nonce(0, FLAG_HEADER), b"", unsigned.body)
        return cls(data_key, Header(segment_size, object_id, nonce_prefix, tag), object_name)

    def seal(self, index: int, final: bool, plaintext: bytes) -> bytes:
        return self._aead.encrypt(self.header.nonce(index, FLAG_FINAL if final else FLAG_MORE), plaintext, self._aad)

    def seal_into(self, index: int, final: bool, plaintext, out) -> int:
        """As seal, writing the segment into `out` (exactly len(plaintext) + TAG_SIZE bytes, a
        writable buffer) instead of a new bytes object; returns its length. For streams that
        encrypt into the buffer they are asked to fill: no copy of the ciphertext."""
        length = len(plaintext) + TAG_SIZE
        self._aead.encrypt_into(self.header.nonce(index, FLAG_FINAL if final else FLAG_MORE), plaintext, self._aad, out)
        return length

    def open(self, index: int, final: bool, ciphertext: bytes, count: int) -> bytes:
        try:
            return self._aead.decrypt(self.header.nonce(index, FLAG_FINAL if final else FLAG_MORE), ciphertext, self._aad)
        except InvalidTag:
            what = "final segment" if final else "segment"
            raise IntegrityError(
                f"object {self.object_name}: {what} {index} of {count} failed authentication "
                "(altered, truncated, extended, reordered, or from another object)",
                object_name=self.object_name,
                segment=index,
            ) from None


def encrypt(src: BinaryIO, cipher: ObjectCipher) -> Iterator[bytes]:
    """Yield the header, then each encrypted segment, reading `src` one segment ahead so the last
    segment can be flagged final. Memory: two segments, whatever the input size."""
    size = cipher.header.segment_size
    yield cipher.header.raw
    current = read_exactly(src, size)
    index = 0
    while True:
        following = read_exactly(src, size) if len(current) == size else b""
        final = not following
        if index >= MAX_SEGMENTS:
            raise ValueError(f"object {cipher.object_name}: more than {MAX_SEGMENTS} segments; use a larger segment size")
        yield cipher.seal(index, final, current)
        if final:
            return
        current = following
        index += 1


def decrypt_range(fileobj: BinaryIO, cipher: ObjectCipher, ciphertext_size: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Yield the plaintext of [start, end) (end None or past the end: up to the end), reading only
    the segments the range touches. Each segment is verified before any of its bytes is yielded."""
    if start < 0:
        raise ValueError(f"object {cipher.object_name}: range start {start} is negative")
    size = cipher.header.segment_size
    plaintext_size = cipher.header.plaintext_size(ciphertext_size, cipher.object_name)
    end = plaintext_size if end is None else min(end, plaintext_size)
    if plaintext_size == 0:
        # An object cut down to its header and one tag would pass for an empty one: check the tag.
        verify(fileobj, cipher, ciphertext_size)
    if start >= end:
        return
    first, last = start // size, (end - 1) // size
    for index, plaintext in decrypt_segments(fileobj, cipher, plaintext_size, first, last):
        lo = start - index * size if index == first else 0
        hi = end - index * size if index == last else len(plaintext)
        yield plaintext if (lo == 0 and hi == len(plaintext)) else plaintext[lo:hi]


def verify(fileobj: BinaryIO, cipher: ObjectCipher, ciphertext_size: int) -> int:
    """Authenticate every segment, final one included (backup verification); return the plaintext size."""
    plaintext_size = cipher.header.plaintext_size(ciphertext_size, cipher.object_name)
    for _ in decrypt_segments(fileobj, cipher, plaintext_size, 0, cipher.header.segment_count(plaintext_size) - 1):
        pass
    return plaintext_size


def decrypt_segments(fileobj: BinaryIO, cipher: ObjectCipher, plaintext_size: int, first: int, last: int) -> Iterator[tuple[int, bytes]]:
    """Read segments first..last with one seek; yield each one's plaintext once its tag verified."""
    header = cipher.header
    size = header.segment_size
    count = header.segment_count(plaintext_size)
    fileobj.seek(header.segment_offset(first))
    for index in range(first, last + 1):
        final = index == count - 1
        length = (plaintext_size - index * size if final else size) + TAG_SIZE
        ciphertext = read_exactly(fileobj, length)
        if len(ciphertext) != length:
            raise IntegrityError(
                f"object {cipher.object_name}: segment {index} of {count} is short "
                f"({len(ciphertext)} of {length} bytes; truncated while being read)",
                object_name=cipher.object_name,
                segment=index,
            )
        yield index, cipher.open(index, final, ciphertext, count)


def readinto_exactly(fileobj: BinaryIO, buffer: memoryview) -> int:
    """read_exactly into `buffer`: fill it, short only at end of file; returns the bytes read.
    Through readinto when the stream has it (no new bytes object per read), else read()."""
    readinto = getattr(fileobj, "readinto", None)
    filled = 0
    while filled < len(buffer):
        if readinto is not None:
            n = readinto(buffer[filled:])
        else:  # a stream with read() only
            data = fileobj.read(len(buffer) - filled)
            n = len(data)
            buffer[filled:filled + n] = data
        if not n:
            break
        filled += n
    return filled


def read_exactly(fileobj: BinaryIO, n: int) -> bytes:
    """Read n bytes, fewer only at end of file (pipes and sockets return short reads)."""
    data = fileobj.read(n)
    if not data or len(data) == n:
        return data or b""
    parts, got = [data], len(data)
    while got < n:
        more = fileobj.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
