"""EncryptedStore: a storage backend (put/open/exists/size/delete, see plugins/storage_local.py)
seen through encryption. Callers hand it plaintext and get plaintext back; the backend only ever
holds ciphertext, and the database holds the wrapped keys.

How a put stays all-or-nothing: the data key row is committed first, marked in flight; then the
ciphertext streams into the backend, which writes it under the final key atomically; then the row
is marked stored and the rows of the object it replaced are dropped. A failure before the backend
finished leaves the previous object (if any) untouched and removes the new row; a crash after it
leaves a complete object whose row still opens it (readers find the row by the object id in the
header, not by "latest"), and finish_interrupted_puts() tidies up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..db import database
from ..models import DataKey, utcnow
from . import format as fmt
from . import keys
from .errors import IntegrityError, UnknownObject
from .keyring import Keyring
from .streams import DecryptingReader, EncryptingReader


@dataclass(frozen=True)
class StoredObject:
    object_key: str
    object_id: str
    plaintext_size: int
    ciphertext_size: int


class PlaintextRange:
    """An opened plaintext range. Its bounds and the object's size are known before the first byte
    (for a 206 response's Content-Range); iterating yields verified plaintext chunks; close()
    releases the storage file (WSGI servers call it on a response body)."""

    def __init__(self, fileobj: BinaryIO, cipher: fmt.ObjectCipher, ciphertext_size: int, start: int, end: int | None):
        self.object_key = cipher.object_name
        self.plaintext_size = cipher.header.plaintext_size(ciphertext_size, cipher.object_name)
        if start < 0:
            raise ValueError(f"object {self.object_key}: range start {start} is negative")
        self.start = min(start, self.plaintext_size)
        self.end = self.plaintext_size if end is None else max(self.start, min(end, self.plaintext_size))
        self._file = fileobj
        self._chunks = fmt.decrypt_range(fileobj, cipher, ciphertext_size, self.start, self.end)

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def read_all(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class OpenedObject:
    """A stored object opened for reading, its header, key and size checked: `plaintext_size` is
    known before anything is decrypted, and `range(start, end)` hands the open file to a
    PlaintextRange, so answering a Range request opens the object and finds its key once."""

    def __init__(self, fileobj: BinaryIO, cipher: fmt.ObjectCipher, ciphertext_size: int):
        self.object_key = cipher.object_name
        self.plaintext_size = cipher.header.plaintext_size(ciphertext_size, cipher.object_name)
        self._file, self._cipher, self._size = fileobj, cipher, ciphertext_size

    def range(self, start: int = 0, end: int | None = None) -> PlaintextRange:
        """Plaintext bytes [start, end) (see EncryptedStore.open_range); call it at most once."""
        if self._file is None:
            raise ValueError(f"object {self.object_key}: already handed on or closed")
        fileobj, self._file = self._file, None
        try:
            return PlaintextRange(fileobj, self._cipher, self._size, start, end)
        except BaseException:
            fileobj.close()
            raise

    @property
    def cipher(self) -> fmt.ObjectCipher:
        return self._cipher

    def detach_file(self) -> BinaryIO:
        """The open storage file, from now on the caller's to close: the media server keeps it
        (with `cipher`) to serve many ranges while an access decision is fresh."""
        if self._file is None:
            raise ValueError(f"object {self.object_key}: already handed on or closed")
        fileobj, self._file = self._file, None
        return fileobj

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _KeyCache:
    """Data keys recently unwrapped, per storage key, with the exact header they were verified
    against and the ciphertext size recorded at put time. Only used when a caller asks for it
    (key_max_age > 0): a replay's stream of Range requests then reads no database row."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._entries: OrderedDict[str, tuple[float, bytes, fmt.ObjectCipher, int | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, object_key: str, header_raw: bytes, max_age: float) -> tuple[fmt.ObjectCipher, int | None] | None:
        with self._lock:
            entry = self._entries.get(object_key)
        if entry is None:
            return None
        verified_at, raw, cipher, ciphertext_size = entry
        # Another header (a replaced object, a tampered header) is a miss: full check again.
        if raw != header_raw or time.monotonic() - verified_at > max_age:
            return None
        return cipher, ciphertext_size

    def put(self, object_key: str, header_raw: bytes, cipher: fmt.ObjectCipher, ciphertext_size: int | None) -> None:
        with self._lock:
            self._entries[object_key] = (time.monotonic(), header_raw, cipher, ciphertext_size)
            self._entries.move_to_end(object_key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, object_key: str) -> None:
        with self._lock:
            self._entries.pop(object_key, None)


class EncryptedStore:
    def __init__(self, backend, keyring: Keyring, *, segment_size: int = fmt.DEFAULT_SEGMENT_SIZE):
        self.backend = backend
        self.keyring = keyring
        self.segment_size = segment_size
        self._keys = _KeyCache()

    @classmethod
    def from_settings(cls, backend, settings, environ=None) -> "EncryptedStore":
        """The store an application uses: its backend, and KEKs per its mode and data directory."""
        return cls(backend, Keyring.from_settings(settings, environ))

    def put(self, object_key: str, fileobj: BinaryIO, *, candidate_id: int | None = None) -> StoredObject:
        """Encrypt the plaintext stream into the backend under object_key, replacing any object
        there. The data key is wrapped by the candidate's key (created on first use), or by the
        key-encryption key for an object of no candidate. KeyDestroyed for an erased candidate."""
        self._keys.forget(object_key)
        row, data_key = keys.new_data_key(self.keyring, object_key, candidate_id)
        cipher = fmt.ObjectCipher.create(data_key, bytes.fromhex(row.object_id), segment_size=self.segment_size, object_name=object_key)
        reader = EncryptingReader(fileobj, cipher)
        try:
            self.backend.put(object_key, reader)
            if not reader.finished:
                raise RuntimeError(f"object {object_key}: the storage backend stopped reading before the end of the object")
        except BaseException:
            # The backend did not replace the object (its writes are atomic), so the new key is
            # garbage; if even this delete fails, finish_interrupted_puts() removes it later.
            with contextlib.suppress(Exception):
                DataKey.delete().where(DataKey.id == row.id).execute()
            raise
        stored = StoredObject(object_key, row.object_id, reader.plaintext_size, reader.ciphertext_size)
        self._mark_stored(row.id, object_key, stored.plaintext_size, stored.ciphertext_size)
        return stored

    def open_range(self, object_key: str, start: int = 0, end: int | None = None) -> PlaintextRange:
        """Plaintext bytes [start, end) of the object (end None: to the end). The header, key and
        size are checked now; each segment is checked as it is read, before its bytes are yielded."""
        return self.open_object(object_key).range(start, end)

    def open_object(self, object_key: str, *, key_max_age: float = 0) -> OpenedObject:
        """The object opened and checked as for open_range, its range chosen afterwards (a Range
        header is resolved against the size).

        key_max_age: seconds for which a data key this store unwrapped for `object_key` may be used
        again without reading its database row, provided the header is byte for byte the one it
        was verified with. The size is still checked against the recorded one and every segment
        is still authenticated; what such reuse delays by up to key_max_age is only the effect of
        a key destroyed or a row deleted meanwhile, as the replay's access check is delayed by its
        cache. 0 (the default) reads the row every time."""
        fileobj, cipher, size = self._open(object_key, key_max_age)
        return OpenedObject(fileobj, cipher, size)

    def open(self, object_key: str) -> DecryptingReader:
        """A seekable file of the plaintext (for ffmpeg pipes, exports, backup verification)."""
        fileobj, cipher, size = self._open(object_key)
        try:
            return DecryptingReader(fileobj, cipher, size)
        except BaseException:
            fileobj.close()
            raise

    def plaintext_size(self, object_key: str) -> int:
        """From the ciphertext size and the authenticated header; nothing is decrypted."""
        with self.open_object(object_key) as opened:
            return opened.plaintext_size

    def verify(self, object_key: str) -> int:
        """Authenticate every segment of the object; return its plaintext size."""
        fileobj, cipher, size = self._open(object_key)
        with fileobj:
            return fmt.verify(fileobj, cipher, size)

    def exists(self, object_key: str) -> bool:
        return self.backend.exists(object_key) and DataKey.select().where(DataKey.object_key == object_key).exists()

    def delete(self, object_key: str) -> None:
        # Keys first: if the backend delete then fails, what remains is unreadable ciphertext.
        self._keys.forget(object_key)
        DataKey.delete().where(DataKey.object_key == object_key).execute()
        self.backend.delete(object_key)

    def finish_interrupted_puts(self, older_than: dt.timedelta = dt.timedelta(hours=1)) -> dict:
        """Settle data key rows of puts that never finished (the process died): a row whose object
        did reach storage becomes the stored one; a row whose object did not is deleted."""
        settled = {"completed": 0, "discarded": 0}
        cutoff = utcnow() - older_than
        for row in list(DataKey.select().where(DataKey.stored_at.is_null(), DataKey.created_at < cutoff)):
            try:
                fileobj = self.backend.open(row.object_key)
            except FileNotFoundError:
                fileobj = None
            if fileobj is not None:
                with fileobj:
                    try:
                        header = fmt.read_header(fileobj, row.object_key)
                    except IntegrityError:
                        header = None  # not an encrypted object of ours: the row's put never landed
                    size = fileobj.seek(0, io.SEEK_END)
                if header is not None and header.object_id.hex() == row.object_id:
                    # Its size may be impossible (damaged since); then it stays for an operator to see.
                    with contextlib.suppress(IntegrityError):
                        self._mark_stored(row.id, row.object_key, header.plaintext_size(size, row.object_key), size)
                        settled["completed"] += 1
                    continue
            DataKey.delete().where(DataKey.id == row.id).execute()
            settled["discarded"] += 1
        return settled

    # --- internals -------------------------------------------------------------------------

    def _open(self, object_key: str, key_max_age: float = 0) -> tuple[BinaryIO, fmt.ObjectCipher, int]:
        """Open the stored object, authenticate its header under its own data key, and check its
        size against the one recorded when it was stored (see open_object for key_max_age)."""
        try:
            fileobj = self.backend.open(object_key)
        except FileNotFoundError:
            raise UnknownObject(f"object {object_key}: not in storage") from None
        try:
            header = fmt.read_header(fileobj, object_key)
            size = fileobj.seek(0, io.SEEK_END)
            cached = self._keys.get(object_key, header.raw, key_max_age) if key_max_age > 0 else None
            if cached is not None:
                cipher, stored_size = cached  # this very header verified under this key a moment ago
            else:
                row, data_key = keys.data_key(self.keyring, header.object_id, object_key)
                cipher = fmt.ObjectCipher(data_key, header, object_key)
                stored_size = row.ciphertext_size
            if stored_size is not None and size != stored_size:
                raise IntegrityError(
                    f"object {object_key}: storage holds {size} bytes but {stored_size} were stored (truncated or extended)",
                    object_name=object_key,
                )
            if cached is None and key_max_age > 0:
                self._keys.put(object_key, header.raw, cipher, stored_size)
            return fileobj, cipher, size
        except BaseException:
            fileobj.close()
            raise

    @staticmethod
    def _mark_stored(row_id: int, object_key: str, plaintext_size: int, ciphertext_size: int) -> None:
        with database.atomic():
            DataKey.update(stored_at=utcnow(), plaintext_size=plaintext_size, ciphertext_size=ciphertext_size).where(DataKey.id == row_id).execute()
            DataKey.delete().where(DataKey.object_key == object_key, DataKey.id != row_id, DataKey.stored_at.is_null(False)).execute()
