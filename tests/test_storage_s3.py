"""The `s3` storage backend against a real S3-compatible server: moto's standalone server on loopback.

The moto server and bucket fixtures live in conftest.py (the playback tests use them too).
"""

from __future__ import annotations

import io
import os
import socket

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from talentreel.plugins import storage_s3
from talentreel.plugins.storage_s3 import S3Storage, StorageUnavailable
from talentreel.server.errors import ConfigError, TalentReelError

MiB = 1024 * 1024
PART = 5 * MiB  # S3's smallest part size, so a 12 MiB object is a three-part upload
CREDENTIALS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


def admin_client(endpoint):
    """A plain boto3 client, for looking at the bucket behind the backend's back."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))


def make_s3(endpoint, bucket, **kwargs) -> S3Storage:
    return S3Storage(bucket, endpoint_url=endpoint, **dict(CREDENTIALS, part_size=PART, **kwargs))


@pytest.fixture
def s3(s3_endpoint, s3_bucket):
    return make_s3(s3_endpoint, s3_bucket)


class Requests:
    """Records every request a backend's client sends: (operation, Range header)."""

    def __init__(self, storage: S3Storage):
        self.sent = []
        storage.client.meta.events.register("before-send.s3", self._record)

    def _record(self, request, event_name, **kwargs):
        value = request.headers.get("Range")
        self.sent.append((event_name.rsplit(".", 1)[-1], value.decode() if isinstance(value, bytes) else value))

    def count(self, operation):
        return sum(1 for op, _ in self.sent if op == operation)

    def ranged_bytes(self):
        total = 0
        for op, value in self.sent:
            if op == "GetObject":
                start, end = value.removeprefix("bytes=").split("-")
                total += int(end) - int(start) + 1
        return total

    def clear(self):
        self.sent.clear()


def pending_uploads(endpoint, bucket):
    return admin_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])


class FailingStream(io.RawIOBase):
    """Yields `good` bytes, then fails the way a dropped client connection would."""

    def __init__(self, good: int):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left == 0:
            raise ConnectionResetError("client went away")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


@pytest.fixture(scope="module")
def big():
    return os.urandom(12 * MiB)


# --- put / open / read ---------------------------------------------------------------------------


def test_small_object_is_one_put(s3):
    requests = Requests(s3)
    assert s3.put("recordings/1/original", io.BytesIO(b"hello")) == 5
    assert requests.count("PutObject") == 1 and requests.count("CreateMultipartUpload") == 0
    with s3.open("recordings/1/original") as f:
        assert f.read() == b"hello"


def test_large_object_is_a_multipart_upload(s3, s3_endpoint, s3_bucket, big):
    requests = Requests(s3)
    assert s3.put("recordings/2/original", io.BytesIO(big)) == len(big)
    assert requests.count("UploadPart") == 3 and requests.count("CompleteMultipartUpload") == 1
    assert s3.size("recordings/2/original") == len(big)
    with s3.open("recordings/2/original") as f:
        assert f.read() == big
    assert pending_uploads(s3_endpoint, s3_bucket) == []


def test_short_reads_from_the_source_still_fill_parts(s3, big):
    class Trickle(io.RawIOBase):  # returns at most 100 KiB per call, like a socket
        def __init__(self):
            self.src = io.BytesIO(big)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self.src.readinto(memoryview(buffer)[:100 * 1024])

    requests = Requests(s3)
    assert s3.put("k", Trickle()) == len(big)
    assert requests.count("UploadPart") == 3  # parts of 5 MiB, not one per short read
    assert s3.open("k").read() == big


def test_ranged_read_at_a_large_offset_fetches_only_the_read_ahead(s3, big):
    s3.put("recordings/3/original", io.BytesIO(big))
    requests = Requests(s3)
    with s3.open("recordings/3/original") as f:
        f.seek(10 * MiB)
        assert f.read(64 * 1024) == big[10 * MiB:10 * MiB + 64 * 1024]
        assert requests.count("HeadObject") == 1 and requests.count("GetObject") == 1
        assert requests.ranged_bytes() <= storage_s3.READ_AHEAD  # not the 12 MiB object
        # The next segments come from the read-ahead buffer, without another request.
        assert f.read(64 * 1024) == big[10 * MiB + 64 * 1024:10 * MiB + 128 * 1024]
        assert requests.count("GetObject") == 1


def test_a_large_read_is_few_gets_and_read_all_is_one(s3, big):
    s3.put("k", io.BytesIO(big))
    requests = Requests(s3)
    with s3.open("k") as f:
        f.seek(1000)
        assert f.read(3 * MiB) == big[1000:1000 + 3 * MiB]
        assert requests.count("GetObject") <= 2
        requests.clear()
        f.seek(5 * MiB)
        assert f.read() == big[5 * MiB:]
        assert requests.count("GetObject") == 1


SEEK_OBJECT = os.urandom(1300 * 1024 + 7)  # several read-ahead buffers, and a multiple of none


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END]),
                          st.integers(-2 * MiB, 2 * MiB), st.integers(-1, 1536 * 1024)), min_size=1, max_size=8))
def test_random_seeks_and_reads_match_the_original(s3, steps):
    key = "random/object"
    if not s3.exists(key):  # one object for all examples (the fixture is per test, not per example)
        s3.put(key, io.BytesIO(SEEK_OBJECT))
    data = SEEK_OBJECT
    model = io.BytesIO(data)
    with s3.open(key) as f:
        for whence, offset, n in steps:
            target = {io.SEEK_SET: 0, io.SEEK_CUR: model.tell(), io.SEEK_END: len(data)}[whence] + offset
            if target < 0:
                with pytest.raises(OSError):
                    f.seek(offset, whence)
                continue
            assert f.seek(offset, whence) == model.seek(offset, whence)
            assert f.read(n) == model.read(n)
            assert f.tell() == model.tell()


def test_reader_is_read_only_and_closes(s3):
    s3.put("k", io.BytesIO(b"abc"))
    f = s3.open("k")
    assert f.readable() and f.seekable() and not f.writable()
    with pytest.raises(io.UnsupportedOperation):
        f.write(b"x")
    f.close()
    with pytest.raises(ValueError):
        f.read()


# --- exists / size / delete / keys ---------------------------------------------------------------


def test_exists_size_delete(s3):
    assert not s3.exists("recordings/4/original")
    s3.put("recordings/4/original", io.BytesIO(b"12345"))
    assert s3.exists("recordings/4/original") and s3.size("recordings/4/original") == 5
    s3.delete("recordings/4/original")
    assert not s3.exists("recordings/4/original")
    s3.delete("recordings/4/original")  # deleting what is gone is not an error
    with pytest.raises(FileNotFoundError):
        s3.size("recordings/4/original")
    with pytest.raises(FileNotFoundError):
        s3.open("recordings/4/original")


def test_keys_are_listed_by_prefix_within_the_configured_prefix(s3_endpoint, s3_bucket):
    one = make_s3(s3_endpoint, s3_bucket, prefix="tenant-a/")
    other = make_s3(s3_endpoint, s3_bucket, prefix="tenant-b")
    for key in ("recordings/1/original", "recordings/1/poster", "recordings/2/original", "reports/1/media"):
        one.put(key, io.BytesIO(b"x"))
    other.put("recordings/9/original", io.BytesIO(b"y"))
    assert list(one.keys("recordings/1/")) == ["recordings/1/original", "recordings/1/poster"]
    assert len(list(one.keys())) == 4 and list(other.keys()) == ["recordings/9/original"]
    stored = [o["Key"] for o in admin_client(s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert "tenant-a/recordings/1/original" in stored and "tenant-b/recordings/9/original" in stored


def test_keys_pages_through_long_listings(s3):
    def small_pages(params, **kwargs):  # pages of 2 instead of 1000, so 5 keys take 3 requests
        params["MaxKeys"] = 2

    s3.client.meta.events.register("before-parameter-build.s3.ListObjectsV2", small_pages)
    for i in range(5):
        s3.put(f"thumbs/{i}", io.BytesIO(b""))
    requests = Requests(s3)
    assert list(s3.keys("thumbs/")) == [f"thumbs/{i}" for i in range(5)]
    assert requests.count("ListObjectsV2") == 3


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a\\b", "a/"])
def test_invalid_keys_are_refused(s3, key):
    with pytest.raises(ValueError, match="invalid storage key"):
        s3.put(key, io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        s3.open(key)


# --- failures ----------------------------------------------------------------------------------


def test_failure_mid_upload_leaves_no_object_and_no_pending_upload(s3, s3_endpoint, s3_bucket):
    with pytest.raises(ConnectionResetError):
        s3.put("recordings/5/original", FailingStream(7 * MiB))  # fails after the first part went up
    assert not s3.exists("recordings/5/original")
    assert pending_uploads(s3_endpoint, s3_bucket) == []


def test_failed_replacement_keeps_the_old_object(s3, s3_endpoint, s3_bucket):
    s3.put("k", io.BytesIO(b"old"))
    with pytest.raises(ConnectionResetError):
        s3.put("k", FailingStream(6 * MiB))
    assert s3.open("k").read() == b"old"
    assert pending_uploads(s3_endpoint, s3_bucket) == []


def test_failed_completion_is_aborted(s3, s3_endpoint, s3_bucket, big):
    class Boom(Exception):
        pass

    def fail(**kwargs):
        raise Boom()

    s3.client.meta.events.register("before-call.s3.CompleteMultipartUpload", fail)
    with pytest.raises(Boom):
        s3.put("k", io.BytesIO(big))
    assert not s3.exists("k") and pending_uploads(s3_endpoint, s3_bucket) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_names_endpoint_and_bucket():
    endpoint = f"http://127.0.0.1:{closed_port()}"
    storage = S3Storage("recordings-bucket", endpoint_url=endpoint, max_attempts=1, **CREDENTIALS)
    for call in (storage.check, lambda: storage.put("k", io.BytesIO(b"x")), lambda: storage.open("k"), lambda: list(storage.keys())):
        with pytest.raises(StorageUnavailable) as caught:
            call()
        message = str(caught.value)
        assert endpoint in message and "'recordings-bucket'" in message and "unreachable" in message
    assert issubclass(StorageUnavailable, TalentReelError)


def test_missing_bucket_is_reported_when_storage_is_built(s3_endpoint):
    settings = {"s3_endpoint_url": s3_endpoint, "s3_bucket": "no-such-bucket", "s3_access_key": "testing",
                "s3_secret_key": "testing", "s3_region": "us-east-1"}
    with pytest.raises(StorageUnavailable, match=f"'no-such-bucket' at {s3_endpoint}.*does not exist"):
        storage_s3.from_settings(settings)
    unchecked = make_s3(s3_endpoint, "no-such-bucket")
    with pytest.raises(StorageUnavailable, match="does not exist"):
        unchecked.put("k", io.BytesIO(b"x"))


def test_refused_credentials_are_storage_unavailable(s3, s3_endpoint, s3_bucket):
    def refuse(**kwargs):  # moto accepts any key, so answer as S3 does for a wrong one
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "InvalidAccessKeyId", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject")

    s3.client.meta.events.register("before-call.s3.HeadObject", refuse)
    with pytest.raises(StorageUnavailable, match="refused access.*InvalidAccessKeyId"):
        s3.exists("k")


# --- tiers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 12 * MiB], ids=["small", "multipart"])
def test_tier_moves_round_trip_preserving_bytes(s3_endpoint, s3_bucket, size):
    s3 = make_s3(s3_endpoint, s3_bucket, cold_storage_class="GLACIER_IR")
    data = os.urandom(size)
    s3.put("recordings/6/original", io.BytesIO(data))
    assert s3.tier("recordings/6/original") == "hot"

    s3.set_tier("recordings/6/original", "cold")
    assert s3.tier("recordings/6/original") == "cold"
    head = admin_client(s3_endpoint).head_object(Bucket=s3_bucket, Key="recordings/6/original")
    assert head["StorageClass"] == "GLACIER_IR"
    with s3.open("recordings/6/original") as f:  # cold objects stay readable, ranges included
        f.seek(size // 2)
        assert f.read(100) == data[size // 2:size // 2 + 100]
        f.seek(0)
        assert f.read() == data

    s3.set_tier("recordings/6/original", "hot")
    assert s3.tier("recordings/6/original") == "hot"
    assert s3.open("recordings/6/original").read() == data
    assert list(s3.keys()) == ["recordings/6/original"]


def test_setting_the_current_tier_copies_nothing(s3):
    s3.put("k", io.BytesIO(b"abc"))
    s3.set_tier("k", "cold")
    requests = Requests(s3)
    s3.set_tier("k", "cold")
    s3.set_tier("k", "cold")
    assert requests.count("CopyObject") == 0
    assert s3.tier("k") == "cold"


def test_objects_beyond_the_copy_limit_move_part_by_part(s3, s3_endpoint, s3_bucket, big):
    s3.copy_limit, s3.copy_part_size = 6 * MiB, 5 * MiB  # as a 5 GiB+ object would, in miniature
    s3.put("k", io.BytesIO(big))
    requests = Requests(s3)
    s3.set_tier("k", "cold")
    assert requests.count("UploadPartCopy") == 3 and requests.count("CopyObject") == 0
    assert s3.tier("k") == "cold" and s3.open("k").read() == big
    assert pending_uploads(s3_endpoint, s3_bucket) == []


def test_tier_of_a_missing_object(s3):
    with pytest.raises(FileNotFoundError):
        s3.tier("nothing")
    with pytest.raises(FileNotFoundError):
        s3.set_tier("nothing", "cold")


def test_unknown_tier_is_refused(s3):
    s3.put("k", io.BytesIO(b"abc"))
    with pytest.raises(ValueError, match="unknown storage tier 'warm'"):
        s3.set_tier("k", "warm")


@pytest.mark.parametrize("storage_class", ["GLACIER", "deep_archive", "STANDARD"])
def test_cold_classes_that_cannot_serve_replays_are_refused(s3_endpoint, s3_bucket, storage_class):
    with pytest.raises(ConfigError, match="s3_cold_storage_class"):
        make_s3(s3_endpoint, s3_bucket, cold_storage_class=storage_class)


def test_a_cold_class_the_store_refuses_is_a_config_error(s3_endpoint, s3_bucket):
    s3 = make_s3(s3_endpoint, s3_bucket, cold_storage_class="NO_SUCH_CLASS")
    s3.put("k", io.BytesIO(b"abc"))
    with pytest.raises(ConfigError, match="s3_cold_storage_class.*NO_SUCH_CLASS"):
        s3.set_tier("k", "cold")
    assert s3.tier("k") == "hot"


# --- the hook and settings -----------------------------------------------------------------------


def test_hook_offers_the_s3_factory(s3_endpoint, s3_bucket):
    factory = storage_s3.talentreel_storage_backends()["s3"]
    storage = factory({"s3_endpoint_url": s3_endpoint, "s3_bucket": s3_bucket, "s3_access_key": "testing",
                       "s3_secret_key": "testing", "s3_region": "us-east-1", "s3_prefix": "/talentreel/",
                       "s3_cold_storage_class": "glacier_ir"})
    assert storage.prefix == "talentreel/" and storage.cold_storage_class == "GLACIER_IR"
    storage.put("a/b", io.BytesIO(b"x"))
    assert admin_client(s3_endpoint).head_object(Bucket=s3_bucket, Key="talentreel/a/b")["ContentLength"] == 1


def test_credentials_come_from_the_aws_chain_when_not_set(s3_endpoint, s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    storage = storage_s3.from_settings({"s3_endpoint_url": s3_endpoint, "s3_bucket": s3_bucket, "s3_region": "us-east-1"})
    assert storage.client._request_signer._credentials.access_key == "from-env"


@pytest.mark.parametrize("settings, message", [
    ({}, "s3_bucket"),
    ({"s3_bucket": "b", "s3_access_key": "only-half"}, "s3_access_key.*s3_secret_key"),
    ({"s3_bucket": "b", "s3_endpoint_url": "minio:9000"}, "s3_endpoint_url.*minio:9000"),
    ({"s3_bucket": "b", "s3_prefix": "a/../b"}, "s3_prefix"),
])
def test_incomplete_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        storage_s3.from_settings(settings)


def _wired():
    from talentreel.server import config, plugins

    return "s3_bucket" in config.BY_NAME and "talentreel.plugins.storage_s3" in plugins.BUILTIN_PLUGINS


@pytest.mark.skipif(not _wired(), reason="s3 settings and the built-in plugin entry are not wired yet")
def test_app_storage_is_s3_when_configured(settings, s3_endpoint, s3_bucket):
    from talentreel.server import create_app

    app = create_app(dict(settings, storage_backend="s3", s3_endpoint_url=s3_endpoint, s3_bucket=s3_bucket,
                          s3_access_key="testing", s3_secret_key="testing", s3_region="us-east-1"))
    storage = app.extensions["talentreel"].storage
    assert isinstance(storage, S3Storage)
    storage.put("recordings/1/original", io.BytesIO(b"abc"))
    assert storage.open("recordings/1/original").read() == b"abc"
