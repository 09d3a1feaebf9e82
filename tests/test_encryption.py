"""The encrypted object format: round trips, range reads, the file-like readers, and tampering.

No database here: these exercise server/encryption/format.py and streams.py directly.
"""

from __future__ import annotations

import hashlib
import io
import os
import resource
import shutil
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from talentreel.server.encryption import format as fmt
from talentreel.server.encryption.errors import IntegrityError
from talentreel.server.encryption.streams import DecryptingReader, EncryptingReader
from talentreel.server.errors import TalentReelError

S = fmt.DEFAULT_SEGMENT_SIZE


def seal(plaintext: bytes, *, segment_size: int = S, data_key: bytes | None = None, object_id: bytes | None = None,
         nonce_prefix: bytes | None = None) -> tuple[bytes, bytes]:
    """(ciphertext, data key) of plaintext."""
    data_key = data_key or os.urandom(32)
    cipher = fmt.ObjectCipher.create(data_key, object_id or fmt.new_object_id(), segment_size=segment_size, nonce_prefix=nonce_prefix)
    return b"".join(fmt.encrypt(io.BytesIO(plaintext), cipher)), data_key


def opener(ciphertext: bytes, data_key: bytes, name: str = "recordings/7/original") -> fmt.ObjectCipher:
    return fmt.ObjectCipher(data_key, fmt.parse_header(ciphertext, name), name)


def decrypt(ciphertext: bytes, data_key: bytes, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(fmt.decrypt_range(io.BytesIO(ciphertext), opener(ciphertext, data_key), len(ciphertext), start, end))


def read_until_error(ciphertext: bytes, data_key: bytes) -> tuple[bytes, IntegrityError | None]:
    """Everything a reader of the whole object got before the error, and the error."""
    got = []
    try:
        cipher = opener(ciphertext, data_key)
        for chunk in fmt.decrypt_range(io.BytesIO(ciphertext), cipher, len(ciphertext)):
            got.append(chunk)
    except IntegrityError as exc:
        return b"".join(got), exc
    return b"".join(got), None


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, S - 1, S, S + 1, 3 * S, 5 * 1024 * 1024 + 123])
def test_round_trip_at_segment_boundaries(size):
    plaintext = os.urandom(size)
    ciphertext, key = seal(plaintext)
    cipher = opener(ciphertext, key)
    assert len(ciphertext) == cipher.header.ciphertext_size(size) == fmt.HEADER_SIZE + size + 16 * max(1, -(-size // S))
    assert cipher.header.plaintext_size(len(ciphertext), "x") == size
    assert decrypt(ciphertext, key) == plaintext
    assert fmt.verify(io.BytesIO(ciphertext), cipher, len(ciphertext)) == size
    # The file-like encrypting reader, read in odd-sized pieces, produces the same object layout.
    reader = EncryptingReader(io.BytesIO(plaintext), fmt.ObjectCipher.create(key, fmt.new_object_id()))
    pieces = []
    while chunk := reader.read(40_000):
        pieces.append(chunk)
    via_reader = b"".join(pieces)
    assert len(via_reader) == len(ciphertext) and reader.finished and reader.plaintext_size == size
    assert decrypt(via_reader, key) == plaintext


class Trickle(io.RawIOBase):
    """A stream returning at most `step` bytes per read, as a pipe does."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step = memoryview(data), step

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.step, len(self.data))
        buffer[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


class ReadOnly:
    """A source with read() and nothing else."""

    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)

    def read(self, n=-1):
        return self.stream.read(n)


@pytest.mark.parametrize("size", [0, 1, S - 1, S, S + 1, 2 * S, 3 * S + 5])
@pytest.mark.parametrize("read_size", [1000, S + fmt.TAG_SIZE - 1, S + fmt.TAG_SIZE, 1024 * 1024])
@pytest.mark.parametrize("source", [io.BytesIO, lambda data: Trickle(data, 7_000), ReadOnly])
def test_the_encrypting_reader_writes_the_bytes_of_the_format(size, read_size, source):
    """EncryptingReader seals into the caller's buffer rather than through fmt.encrypt: the same
    bytes, whatever the read sizes (smaller and larger than a segment) and the source."""
    key, object_id, plaintext = os.urandom(32), fmt.new_object_id(), os.urandom(size)
    expected, _ = seal(plaintext, data_key=key, object_id=object_id, nonce_prefix=b"nonce-7")
    reader = EncryptingReader(source(plaintext), fmt.ObjectCipher.create(key, object_id, nonce_prefix=b"nonce-7"))
    buffer, pieces = bytearray(read_size), []
    while n := reader.readinto(buffer):
        pieces.append(bytes(buffer[:n]))
    assert b"".join(pieces) == expected
    assert reader.finished and reader.plaintext_size == size and reader.ciphertext_size == len(expected)


def test_the_final_segment_is_never_empty_unless_the_object_is():
    header = fmt.ObjectCipher.create(os.urandom(32), fmt.new_object_id(), segment_size=16).header
    assert [header.segment_count(p) for p in (0, 1, 16, 17, 32, 33)] == [1, 1, 1, 2, 2, 3]
    for plaintext_size in range(0, 100):
        assert header.plaintext_size(header.ciphertext_size(plaintext_size), "x") == plaintext_size
    possible = {header.ciphertext_size(p) for p in range(0, 100)}
    for size in range(0, max(possible)):
        if size not in possible:
            with pytest.raises(IntegrityError, match="not a possible size"):
                header.plaintext_size(size, "x")


def test_plaintext_size_of_a_multi_gigabyte_object_is_arithmetic():
    header = fmt.ObjectCipher.create(os.urandom(32), fmt.new_object_id()).header
    five_gib = 5 * 1024**3 + 12345
    ciphertext_size = header.ciphertext_size(five_gib)
    assert ciphertext_size == fmt.HEADER_SIZE + five_gib + 16 * (five_gib // S + 1)
    assert header.plaintext_size(ciphertext_size, "x") == five_gib
    assert header.segment_offset(five_gib // S) > 2**32


class Pattern(io.RawIOBase):
    """An endless-looking plaintext of `size` bytes that is never held in memory."""

    def __init__(self, size: int):
        self.left = size
        self.block = hashlib.sha256(b"pattern").digest() * 4096  # 128 KiB

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left, len(self.block))
        buffer[:n] = self.block[:n]
        self.left -= n
        return n


def test_streaming_encryption_and_decryption_use_bounded_memory():
    size = 40 * 1024 * 1024
    key = os.urandom(32)
    tracemalloc.start()
    try:
        reader = EncryptingReader(io.BufferedReader(Pattern(size)), fmt.ObjectCipher.create(key, fmt.new_object_id()))
        digest = hashlib.sha256()
        tail = b""
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
            tail = chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.plaintext_size == size
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while encrypting {size}"
    assert tail  # the stream really ended with data


def test_an_object_over_four_gibibytes_streams_through():
    size = 4 * 1024**3 + 1000  # past 2**32 bytes: offsets and counts are not 32-bit anywhere
    key = os.urandom(32)
    cipher = fmt.ObjectCipher.create(key, fmt.new_object_id())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    last = b""
    total = 0
    for chunk in fmt.encrypt(io.BufferedReader(Pattern(size), 1024 * 1024), cipher):
        total += len(chunk)
        last = chunk
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert total == cipher.header.ciphertext_size(size)
    count = cipher.header.segment_count(size)
    assert len(cipher.open(count - 1, True, last, count)) == size - (count - 1) * S
    assert grown_kib < 64 * 1024, f"resident memory grew by {grown_kib} KiB"


class VirtualObject(io.RawIOBase):
    """The ciphertext of a huge object, computed on demand at whatever offset is read, so ranges
    far past 4 GiB can be read without storing gigabytes."""

    def __init__(self, cipher: fmt.ObjectCipher, plaintext_size: int):
        self.cipher, self.plaintext_size = cipher, plaintext_size
        self.size = cipher.header.ciphertext_size(plaintext_size)
        self.count = cipher.header.segment_count(plaintext_size)
        self.pos = 0

    @staticmethod
    def plaintext_of(index: int, length: int) -> bytes:
        return (hashlib.sha256(index.to_bytes(8, "big")).digest() * (length // 32 + 1))[:length]

    def segment(self, index: int) -> bytes:
        final = index == self.count - 1
        length = self.plaintext_size - index * S if final else S
        return self.cipher.seal(index, final, self.plaintext_of(index, length))

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.pos = offset + {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        return self.pos

    def readinto(self, buffer):
        if self.pos >= self.size:
            return 0
        if self.pos < fmt.HEADER_SIZE:
            data = self.cipher.header.raw[self.pos:]
        else:
            index, offset = divmod(self.pos - fmt.HEADER_SIZE, S + 16)
            data = self.segment(index)[offset:]
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        self.pos += n
        return n


def test_ranges_far_past_four_gibibytes_decrypt():
    size = 6 * 1024**3 + 777
    key = os.urandom(32)
    virtual = VirtualObject(fmt.ObjectCipher.create(key, fmt.new_object_id()), size)
    cipher = fmt.ObjectCipher(key, fmt.read_header(virtual, "huge"), "huge")
    assert cipher.header.plaintext_size(virtual.size, "huge") == size
    last = virtual.count - 1
    start = last * S - 100  # the end of the next-to-last segment and the whole short final one
    expected = VirtualObject.plaintext_of(last - 1, S)[-100:] + VirtualObject.plaintext_of(last, size - last * S)
    assert b"".join(fmt.decrypt_range(virtual, cipher, virtual.size, start)) == expected
    reader = DecryptingReader(virtual, cipher, virtual.size)
    reader.seek(5 * 1024**3 + 10)
    index = (5 * 1024**3 + 10) // S
    assert reader.read(50) == VirtualObject.plaintext_of(index, S)[10:60]


# --- ranges -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    segment_size=st.sampled_from([1, 7, 16, 64]),
    plaintext=st.binary(min_size=0, max_size=400),
    data=st.data(),
)
def test_every_range_decrypts_to_the_same_bytes(segment_size, plaintext, data):
    ciphertext, key = seal(plaintext, segment_size=segment_size)
    start = data.draw(st.integers(0, len(plaintext) + 3))
    end = data.draw(st.one_of(st.none(), st.integers(0, len(plaintext) + 3)))
    expected = plaintext[start:] if end is None else plaintext[start:end]
    assert decrypt(ciphertext, key, start, end) == expected


def test_every_range_of_a_small_object_exhaustively():
    plaintext = os.urandom(5 * 16 + 3)
    ciphertext, key = seal(plaintext, segment_size=16)
    for start in range(len(plaintext) + 1):
        for end in range(start, len(plaintext) + 2):
            assert decrypt(ciphertext, key, start, end) == plaintext[start:end], (start, end)


class CountingFile(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0
        self.seeks = 0

    def read(self, n=-1):
        data = super().read(n)
        self.bytes_read += len(data)
        return data

    def seek(self, *args):
        self.seeks += 1
        return super().seek(*args)


def test_a_range_reads_only_the_segments_it_touches():
    plaintext = os.urandom(100 * S)
    ciphertext, key = seal(plaintext)
    cipher = opener(ciphertext, key)
    f = CountingFile(ciphertext)
    start = 50 * S + 10
    assert b"".join(fmt.decrypt_range(f, cipher, len(ciphertext), start, start + 1000)) == plaintext[start:start + 1000]
    assert (f.bytes_read, f.seeks) == (S + 16, 1)
    f = CountingFile(ciphertext)
    assert b"".join(fmt.decrypt_range(f, cipher, len(ciphertext), 10 * S - 5, 12 * S + 5)) == plaintext[10 * S - 5:12 * S + 5]
    assert f.bytes_read == 4 * (S + 16)


def test_a_damaged_segment_does_not_stop_ranges_elsewhere():
    plaintext = os.urandom(4 * 64)
    ciphertext, key = seal(plaintext, segment_size=64)
    damaged = bytearray(ciphertext)
    damaged[fmt.HEADER_SIZE + 3 * 80 + 5] ^= 1
    assert decrypt(bytes(damaged), key, 0, 150) == plaintext[:150]
    with pytest.raises(IntegrityError, match="final segment 3 of 4"):
        decrypt(bytes(damaged), key, 150, 200)


# --- the decrypting file ----------------------------------------------------------------------


def test_decrypting_reader_reads_seeks_and_tells():
    plaintext = os.urandom(3 * 64 + 9)
    ciphertext, key = seal(plaintext, segment_size=64)
    reader = DecryptingReader(io.BytesIO(ciphertext), opener(ciphertext, key), len(ciphertext))
    assert reader.size == len(plaintext) and reader.seekable() and reader.readable()
    assert reader.read(10) == plaintext[:10] and reader.tell() == 10
    assert reader.read(100) == plaintext[10:110]
    assert reader.seek(-5, io.SEEK_END) == len(plaintext) - 5
    assert reader.read() == plaintext[-5:]
    assert reader.read(10) == b"" and reader.read() == b""
    assert reader.seek(60) == 60 and reader.read(8) == plaintext[60:68]
    assert reader.seek(2, io.SEEK_CUR) == 70
    buffer = bytearray(30)
    assert reader.readinto(buffer) == 30 and bytes(buffer) == plaintext[70:100]
    reader.seek(len(plaintext) + 50)
    assert reader.read(5) == b""
    with pytest.raises(ValueError):
        reader.seek(-1)
    reader.seek(0)
    out = io.BytesIO()
    shutil.copyfileobj(io.BufferedReader(reader, 4096), out)
    assert out.getvalue() == plaintext
    reader.close()
    assert reader.closed


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=300), moves=st.lists(st.tuples(st.integers(0, 320), st.integers(-1, 90)), max_size=12))
def test_decrypting_reader_matches_a_plain_file(plaintext, moves):
    ciphertext, key = seal(plaintext, segment_size=32)
    reader = DecryptingReader(io.BytesIO(ciphertext), opener(ciphertext, key), len(ciphertext))
    plain = io.BytesIO(plaintext)
    for position, size in moves:
        assert reader.seek(position) == plain.seek(position)
        assert reader.read(size) == plain.read(size)
        assert reader.tell() == plain.tell()


def test_sequential_small_reads_decrypt_each_segment_once(monkeypatch):
    plaintext = os.urandom(4 * S)
    ciphertext, key = seal(plaintext)
    cipher = opener(ciphertext, key)
    calls = []
    original = cipher.open
    monkeypatch.setattr(cipher, "open", lambda *a: calls.append(a[0]) or original(*a))
    reader = DecryptingReader(io.BytesIO(ciphertext), cipher, len(ciphertext))
    assert b"".join(iter(lambda: reader.read(4096), b"")) == plaintext
    assert calls == [0, 1, 2, 3]


# --- tampering --------------------------------------------------------------------------------

SEG = 16
PLAINTEXT = bytes(range(256))[:5 * SEG + 7]  # five full segments and a short final one


def sealed():
    return seal(PLAINTEXT, segment_size=SEG)


def segment_bounds(index: int) -> tuple[int, int]:
    start = fmt.HEADER_SIZE + index * (SEG + 16)
    return start, start + SEG + 16


def assert_stopped_before(got: bytes, error: IntegrityError | None, segment: int | None):
    """The read failed at `segment` (None: at the header, before any segment) and what came out
    before is exactly the plaintext of the segments before it."""
    assert error is not None, "tampering went unnoticed"
    assert isinstance(error, TalentReelError)
    assert "recordings/7/original" in str(error)
    assert error.segment == segment
    assert got == (b"" if segment is None else PLAINTEXT[:segment * SEG])
    if segment is not None:
        assert f"segment {segment} of" in str(error)


def test_every_flipped_bit_is_detected_before_the_bad_segment_is_returned():
    ciphertext, key = sealed()
    for position in range(len(ciphertext)):
        for bit in range(8):
            damaged = bytearray(ciphertext)
            damaged[position] ^= 1 << bit
            got, error = read_until_error(bytes(damaged), key)
            segment = None if position < fmt.HEADER_SIZE else (position - fmt.HEADER_SIZE) // (SEG + 16)
            assert_stopped_before(got, error, segment)


def test_dropping_the_final_segment_is_detected():
    ciphertext, key = sealed()
    truncated = ciphertext[:segment_bounds(5)[0]]
    got, error = read_until_error(truncated, key)
    assert_stopped_before(got, error, 4)  # segment 4 now looks final, and was not sealed as final
    assert "final segment 4 of 5" in str(error)


def test_every_truncation_is_detected_and_nothing_wrong_comes_out():
    ciphertext, key = sealed()
    for length in range(0, len(ciphertext)):
        got, error = read_until_error(ciphertext[:length], key)
        assert error is not None, f"truncation to {length} bytes went unnoticed"
        assert PLAINTEXT.startswith(got) and len(got) < len(PLAINTEXT)


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 16, b"y" * 17, b"z" * (SEG + 16), b"w" * 3 * (SEG + 16)])
def test_appended_bytes_are_detected(extra):
    ciphertext, key = sealed()
    got, error = read_until_error(ciphertext + extra, key)
    assert error is not None
    assert PLAINTEXT.startswith(got) and len(got) <= 5 * SEG


def test_an_appended_copy_of_the_final_segment_is_detected():
    ciphertext, key = seal(PLAINTEXT[:5 * SEG], segment_size=SEG)  # exactly five full segments
    start, end = segment_bounds(4)
    got, error = read_until_error(ciphertext + ciphertext[start:end], key)
    assert error is not None and error.segment == 4 and got == PLAINTEXT[:4 * SEG]


def test_reordered_segments_are_detected():
    ciphertext, key = sealed()
    (a0, a1), (b0, b1) = segment_bounds(1), segment_bounds(2)
    swapped = ciphertext[:a0] + ciphertext[b0:b1] + ciphertext[a0:a1] + ciphertext[b1:]
    assert_stopped_before(*read_until_error(swapped, key), 1)


def test_a_duplicated_segment_is_detected():
    ciphertext, key = sealed()
    a0, a1 = segment_bounds(1)
    b0, b1 = segment_bounds(2)
    duplicated = ciphertext[:b0] + ciphertext[a0:a1] + ciphertext[b1:]
    assert_stopped_before(*read_until_error(duplicated, key), 2)


def test_a_segment_of_another_object_is_detected_even_under_the_same_key():
    ciphertext, key = sealed()
    prefix = fmt.parse_header(ciphertext, "x").nonce_prefix
    # Same data key and nonce prefix, another object id: only the header in the AAD tells them apart.
    other, _ = seal(bytes(len(PLAINTEXT)), segment_size=SEG, data_key=key, nonce_prefix=prefix)
    start, end = segment_bounds(3)
    mixed = ciphertext[:start] + other[start:end] + ciphertext[end:]
    assert_stopped_before(*read_until_error(mixed, key), 3)
    different_key, _ = seal(bytes(len(PLAINTEXT)), segment_size=SEG)
    mixed = ciphertext[:start] + different_key[start:end] + ciphertext[end:]
    assert_stopped_before(*read_until_error(mixed, key), 3)


def test_a_header_swapped_between_objects_is_detected():
    ciphertext, key = sealed()
    other, other_key = sealed()
    swapped = other[:fmt.HEADER_SIZE] + ciphertext[fmt.HEADER_SIZE:]
    assert_stopped_before(*read_until_error(swapped, key), None)
    assert_stopped_before(*read_until_error(swapped, other_key), 0)  # its own header, foreign segments
    # The same data key for both (never done, but the binding must not depend on it).
    same_key, _ = seal(PLAINTEXT, segment_size=SEG, data_key=key)
    assert_stopped_before(*read_until_error(same_key[:fmt.HEADER_SIZE] + ciphertext[fmt.HEADER_SIZE:], key), 0)


def test_headers_that_are_not_ours_are_named():
    ciphertext, key = sealed()
    with pytest.raises(IntegrityError, match="not an encrypted TalentReel object"):
        fmt.parse_header(b"ftypisom" + ciphertext[8:], "recordings/1/original")
    with pytest.raises(IntegrityError, match="unsupported format version 2"):
        fmt.parse_header(ciphertext[:4] + b"\x02" + ciphertext[5:], "recordings/1/original")
    with pytest.raises(IntegrityError, match="header is 10 bytes"):
        fmt.parse_header(ciphertext[:10], "recordings/1/original")
    with pytest.raises(IntegrityError, match="segment size 0"):
        fmt.parse_header(ciphertext[:6] + b"\x00\x00\x00\x00" + ciphertext[10:], "recordings/1/original")
