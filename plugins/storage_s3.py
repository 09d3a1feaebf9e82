"""Built-in storage backend `s3`: objects in one bucket of any S3-compatible store (AWS S3, MinIO,
Ceph RGW, ...), through boto3.

- ``put`` streams: inputs up to one part are a single PUT, larger ones a multipart upload holding one
  part in memory at a time; a failed upload is aborted, so nothing half-stored remains and an object
  being replaced keeps its old bytes.
- ``open`` returns a seekable reader whose reads are ranged GETs with a read-ahead buffer: replay
  decrypts only the segments a Range request touches, so it must never download whole recordings.
- Tiers: ``cold`` is a storage class (``s3_cold_storage_class``) set by copying the object onto
  itself, so an object keeps its key whatever its tier (docs/storage.md says why).

boto3 is imported when a backend is built, not with this module: the plugin is always registered,
and installations on local storage should not pay for importing it at every start.
"""

from __future__ import annotations

import errno
import functools
import io
import logging
from contextlib import contextmanager

from talentreel.server.errors import ConfigError, TalentReelError
from talentreel.server.plugins import hookimpl

log = logging.getLogger(__name__)

MiB = 1024 * 1024

PART_SIZE = 8 * MiB
"""Multipart part size, and the memory one upload holds; S3's 10,000-part limit makes it 78 GiB per object."""

MIN_PART_SIZE = 5 * MiB
"""S3 refuses smaller parts (except the last one)."""

READ_AHEAD = 512 * 1024
"""Bytes one ranged GET fetches for a small read: about eight 64 KiB encrypted segments."""

COPY_LIMIT = 5 * 1024 * MiB
"""Largest object CopyObject copies in one request; larger ones are copied part by part."""

COPY_PART_SIZE = 512 * MiB
"""Part size of a server-side multipart copy (no bytes pass through TalentReel, so parts can be big)."""

DEFAULT_COLD_STORAGE_CLASS = "STANDARD_IA"
"""Storage class of the cold tier unless ``s3_cold_storage_class`` names another."""

HOT_STORAGE_CLASS = "STANDARD"

TIERS = ("hot", "cold")

# These classes need a restore request (hours) before a GET succeeds: a cold recording must stay
# playable on demand, so they cannot be the cold tier.
UNREADABLE_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


class StorageUnavailable(TalentReelError):
    """The object store cannot be used: endpoint unreachable, bucket missing or access refused."""


def validate_key(key: str) -> str:
    """The same rule as the local backend, so a key valid on one backend is valid on the other."""
    if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class S3Storage:
    name = "s3"
    copy_limit = COPY_LIMIT
    copy_part_size = COPY_PART_SIZE

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, prefix: str = "",
                 cold_storage_class: str = DEFAULT_COLD_STORAGE_CLASS, part_size: int = PART_SIZE,
                 read_ahead: int = READ_AHEAD, max_attempts: int = 3):
        if not bucket:
            raise ConfigError("setting 's3_bucket' is missing: the s3 storage backend needs a bucket name")
        if bool(access_key) != bool(secret_key):
            raise ConfigError("settings 's3_access_key' and 's3_secret_key' must be set together (or neither, to use the AWS credential chain)")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes")
        cold_storage_class = (cold_storage_class or DEFAULT_COLD_STORAGE_CLASS).upper()
        if cold_storage_class in UNREADABLE_STORAGE_CLASSES or cold_storage_class == HOT_STORAGE_CLASS:
            raise ConfigError(
                f"setting 's3_cold_storage_class': {cold_storage_class} cannot be the cold tier "
                "(it must differ from STANDARD and be readable without a restore, e.g. STANDARD_IA or GLACIER_IR)"
            )
        prefix = prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except ValueError:
                raise ConfigError(f"setting 's3_prefix': {prefix!r} is not a valid key prefix (no empty, '.' or '..' parts)") from None
        self.bucket = bucket
        self.prefix = prefix + "/" if prefix else ""
        self.cold_storage_class = cold_storage_class
        self.part_size = part_size
        self.read_ahead = read_ahead
        try:
            self.client = _make_client(endpoint_url, region, access_key, secret_key, max_attempts)
        except ValueError as exc:  # botocore's word for an endpoint URL it cannot use
            raise ConfigError(f"setting 's3_endpoint_url': {exc} (expected e.g. http://minio:9000)") from None
        self.where = f"S3 bucket '{bucket}' at {self.client.meta.endpoint_url}"

    # --- the backend interface ---------------------------------------------------------------

    def put(self, key: str, fileobj) -> int:
        """Store the stream under key (replacing any old object); return the bytes written."""
        name = self._name(key)
        first = _read_up_to(fileobj, self.part_size)
        if len(first) < self.part_size:  # the whole input fits one part: one request, nothing to abort
            with self._translated(key):
                self.client.put_object(Bucket=self.bucket, Key=name, Body=first)
            return len(first)
        return self._put_multipart(name, key, first, fileobj)

    def open(self, key: str):
        """A seekable, read-only binary file over the object; its size is read once, here."""
        head = self._head(key)
        raw = RangeReader(self, key, head["ContentLength"])
        return io.BufferedReader(raw, buffer_size=self.read_ahead)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return self._head(key)["ContentLength"]

    def delete(self, key: str) -> None:
        with self._translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys(self, prefix: str = ""):
        paginator = self.client.get_paginator("list_objects_v2")
        with self._translated():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix):]

    # --- tiers -------------------------------------------------------------------------------

    def tier(self, key: str) -> str:
        """``"hot"`` for STANDARD objects, ``"cold"`` for any other class (a lifecycle rule's too)."""
        storage_class = self._head(key).get("StorageClass") or HOT_STORAGE_CLASS
        return "hot" if storage_class == HOT_STORAGE_CLASS else "cold"

    def set_tier(self, key: str, tier: str) -> None:
        """Move the object to the tier's storage class; its key and bytes stay the same, and readers
        keep working throughout (the copy replaces the object atomically)."""
        if tier not in TIERS:
            raise ValueError(f"unknown storage tier {tier!r} (expected one of {', '.join(TIERS)})")
        head = self._head(key)
        target = HOT_STORAGE_CLASS if tier == "hot" else self.cold_storage_class
        if (head.get("StorageClass") or HOT_STORAGE_CLASS) == target:
            return
        from botocore.exceptions import ClientError

        try:
            with self._translated(key):
                self._copy_in_place(self._name(key), key, head["ContentLength"], target)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidStorageClass":
                raise ConfigError(f"setting 's3_cold_storage_class': {self.where} does not accept storage class {target}") from exc
            raise

    # --- health --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise StorageUnavailable unless the endpoint answers and the bucket exists."""
        with self._translated():
            self.client.head_bucket(Bucket=self.bucket)

    # --- internals -----------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _head(self, key: str) -> dict:
        with self._translated(key):
            return self.client.head_object(Bucket=self.bucket, Key=self._name(key))

    def _put_multipart(self, name: str, key: str, first: bytearray, fileobj) -> int:
        with self._translated(key):
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            with self._translated(key):
                parts, written, chunk = [], 0, first
                while chunk:
                    number = len(parts) + 1
                    etag = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                   PartNumber=number, Body=chunk)["ETag"]
                    parts.append({"PartNumber": number, "ETag": etag})
                    written += len(chunk)
                    chunk = None  # let the part go before reading the next: one part in memory
                    chunk = _read_up_to(fileobj, self.part_size)
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                      MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(name, upload_id)
            raise
        return written

    def _copy_in_place(self, name: str, key: str, size: int, storage_class: str) -> None:
        source = {"Bucket": self.bucket, "Key": name}
        if size <= self.copy_limit:
            self.client.copy_object(Bucket=self.bucket, Key=name, CopySource=source,
                                    StorageClass=storage_class, MetadataDirective="COPY")
            return
        # Too big for one CopyObject: a server-side multipart copy. It carries no user metadata,
        # which is fine because put() never sets any.
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name, StorageClass=storage_class)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, self.copy_part_size), start=1):
                end = min(start + self.copy_part_size, size) - 1
                result = self.client.upload_part_copy(Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number,
                                                      CopySource=source, CopySourceRange=f"bytes={start}-{end}")
                parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(name, upload_id)
            raise

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception as exc:  # keep the original error; the bucket's lifecycle rule is the backstop
            log.warning("could not abort multipart upload %s of %s in %s: %s", upload_id, name, self.where, exc)

    def _get_range(self, key: str, start: int, view: memoryview) -> int:
        """Fill view with the object's bytes from start on, with one ranged GET; return the count."""
        with self._translated(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key),
                                              Range=f"bytes={start}-{start + len(view) - 1}")
            body = response["Body"]
            try:
                filled = 0
                while filled < len(view):
                    chunk = body.read(min(len(view) - filled, MiB))
                    if not chunk:
                        break
                    view[filled:filled + len(chunk)] = chunk
                    filled += len(chunk)
            finally:
                body.close()  # an unread rest would keep the pooled connection busy
        return filled

    @contextmanager
    def _translated(self, key: str | None = None):
        """Turn boto errors into what callers handle: FileNotFoundError for a missing object (as the
        local backend raises), StorageUnavailable naming endpoint and bucket when the store can't be used."""
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, NoCredentialsError, PartialCredentialsError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "NoSuchBucket" or (status == 404 and key is None):
                raise StorageUnavailable(f"{self.where}: the bucket does not exist") from exc
            if code in ("NoSuchKey", "NotFound", "404"):
                raise FileNotFoundError(errno.ENOENT, f"no such object in {self.where}", key) from exc
            if status in (401, 403):
                raise StorageUnavailable(f"{self.where} refused access ({code}): check s3_access_key, s3_secret_key and the bucket's policy") from exc
            if status >= 500:
                raise StorageUnavailable(f"{self.where} failed ({code or status}) after retries") from exc
            raise
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageUnavailable(f"{self.where}: no credentials ({exc}); set s3_access_key and s3_secret_key, or the AWS_* environment variables") from exc
        except (ConnectionError, HTTPClientError) as exc:  # refused, timed out, TLS failure, cut off
            raise StorageUnavailable(f"{self.where} is unreachable: {exc}") from exc


class RangeReader(io.RawIOBase):
    """The raw side of ``open()``: seeking only moves a position, and each ``readinto`` is one ranged
    GET at it. ``open`` wraps it in an ``io.BufferedReader``, which turns small reads into GETs of
    the read-ahead size and serves seeks within its buffer without any request."""

    def __init__(self, storage: S3Storage, key: str, size: int):
        super().__init__()
        self._storage = storage
        self.name = key
        self.size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence})")
        if base + offset < 0:
            raise OSError(errno.EINVAL, f"negative seek position {base + offset}")  # as a real file says
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self._pos)
        if wanted <= 0:
            return 0
        got = self._storage._get_range(self.name, self._pos, view[:wanted])
        if got == 0:  # 0 would read as end of file: the object must have been replaced by a shorter one
            raise OSError(errno.EIO, f"object {self.name!r} in {self._storage.where} ended at {self._pos}, before its size {self.size}")
        self._pos += got
        return got

    def readall(self) -> bytes:
        # RawIOBase's default loops 8 KiB reads, which here would be one GET each.
        buffer = bytearray(max(self.size - self._pos, 0))
        got = self.readinto(buffer) if buffer else 0
        del buffer[got:]
        return bytes(buffer)


def _read_up_to(fileobj, n: int) -> bytearray:
    """Read n bytes, or fewer only at the end: a stream may return short reads before its end."""
    buffer = bytearray()
    while len(buffer) < n:
        chunk = fileobj.read(n - len(buffer))
        if not chunk:
            break
        buffer += chunk
    return buffer


@functools.cache
def _service_data_loader():
    """botocore's loader of service descriptions, shared: parsing them for every new session is most
    of the cost of building a client (150 ms against 50)."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def _make_client(endpoint_url, region, access_key, secret_key, max_attempts):
    import boto3
    import botocore.session
    from botocore.config import Config

    # A session per backend: boto3 sessions are not thread-safe, the client made from one is.
    core = botocore.session.get_session()
    core.register_component("data_loader", _service_data_loader())
    session = boto3.session.Session(botocore_session=core, aws_access_key_id=access_key or None,
                                    aws_secret_access_key=secret_key or None, region_name=region or None)
    config = Config(
        region_name=session.region_name or "us-east-1",  # what S3-compatible stores expect when none is set
        # Self-hosted stores are reached by host name or address, where bucket sub-domains don't resolve.
        s3={"addressing_style": "path"} if endpoint_url else {},
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=60,
        # boto3's default checksums (CRC32 trailers) are refused by many S3-compatible stores; the
        # objects are authenticated by their encryption anyway.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


def from_settings(settings) -> S3Storage:
    """The ``s3`` factory: build the backend from the s3_* settings and check that it is usable, so a
    wrong endpoint or bucket is reported when storage is first needed, not at the first upload."""
    storage = S3Storage(
        settings.get("s3_bucket") or "",
        endpoint_url=settings.get("s3_endpoint_url") or None,
        region=settings.get("s3_region") or None,
        access_key=settings.get("s3_access_key") or None,
        secret_key=settings.get("s3_secret_key") or None,
        prefix=settings.get("s3_prefix") or "",
        cold_storage_class=settings.get("s3_cold_storage_class") or DEFAULT_COLD_STORAGE_CLASS,
    )
    storage.check()
    return storage


@hookimpl
def talentreel_storage_backends():
    return {"s3": from_settings}
