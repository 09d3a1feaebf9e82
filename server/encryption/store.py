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


class EncryptedStore:
    def __init__(self, backend, keyring: Keyring, *, segment_size: int = fmt.DEFAULT_SEGMENT_SIZE):
        self.backend = backend
        self.keyring = keyring
        self.segment_size = segment_size

    @classmethod
    def from_settings(cls, backend, settings, environ=None) -> "EncryptedStore":
        """The store an application uses: its backend, and KEKs per its mode and data directory."""
        return cls(backend, Keyring.from_settings(settings, environ))

    def put(self, object_key: str, fileobj: BinaryIO, *, candidate_id: int | None = None) -> StoredObject:
        """Encrypt the plaintext stream into the backend under object_key, replacing any object
        there. The data key is wrapped by the candidate's key (created on first use), or by the
        key-encryption key for an object of no candidate. KeyDestroyed for an erased candidate."""
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
        fileobj, cipher, size = self._open(object_key)
        try:
            return PlaintextRange(fileobj, cipher, size, start, end)
        except BaseException:
            fileobj.close()
            raise

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
        fileobj, cipher, size = self._open(object_key)
        with fileobj:
            return cipher.header.plaintext_size(size, object_key)

    def verify(self, object_key: str) -> int:
        """Authenticate every segment of the object; return its plaintext size."""
        fileobj, cipher, size = self._open(object_key)
        with fileobj:
            return fmt.verify(fileobj, cipher, size)

    def exists(self, object_key: str) -> bool:
        return self.backend.exists(object_key) and DataKey.select().where(DataKey.object_key == object_key).exists()

    def delete(self, object_key: str) -> None:
        # Keys first: if the backend delete then fails, what remains is unreadable ciphertext.
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

    def _open(self, object_key: str) -> tuple[BinaryIO, fmt.ObjectCipher, int]:
        """Open the stored object, authenticate its header under its own data key, and check its
        size against the one recorded when it was stored."""
        try:
            fileobj = self.backend.open(object_key)
        except FileNotFoundError:
            raise UnknownObject(f"object {object_key}: not in storage") from None
        try:
            header = fmt.read_header(fileobj, object_key)
            row, data_key = keys.data_key(self.keyring, header.object_id, object_key)
            cipher = fmt.ObjectCipher(data_key, header, object_key)
            size = fileobj.seek(0, io.SEEK_END)
            if row.ciphertext_size is not None and size != row.ciphertext_size:
                raise IntegrityError(
                    f"object {object_key}: storage holds {size} bytes but {row.ciphertext_size} were stored (truncated or extended)",
                    object_name=object_key,
                )
            return fileobj, cipher, size
        except BaseException:
            fileobj.close()
            raise

    @staticmethod
    def _mark_stored(row_id: int, object_key: str, plaintext_size: int, ciphertext_size: int) -> None:
        with database.atomic():
            DataKey.update(stored_at=utcnow(), plaintext_size=plaintext_size, ciphertext_size=ciphertext_size).where(DataKey.id == row_id).execute()
            DataKey.delete().where(DataKey.object_key == object_key, DataKey.id != row_id, DataKey.stored_at.is_null(False)).execute()
