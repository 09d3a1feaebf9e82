"""Resumable uploads (tus 1.0.0) through the Flask test client: the protocol, who may do what,
what completion does with a finished or refused file, and the cleanup of abandoned uploads."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
from types import MappingProxyType

import pytest
from argon2 import PasswordHasher
from conftest import csrf_token_from

from talentreel.server import models as m
from talentreel.server import schema
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.auth import passwords
from talentreel.server.errors import ValidationError
from talentreel.server.ingest import init_app, metadata, parts, register_completion_handler, remove_abandoned_uploads
from talentreel.server.ingest.tus import RECORDING_HEADER

API = "/api/v1/uploads/"
WEB = "/uploads/"
MiB = 1024 * 1024


class Completions:
    """The completion handler under test: it stores nothing, it remembers what it was given and
    makes a Recording row, or refuses (`refuse = message`) or breaks (`crash = True`)."""

    def __init__(self):
        self.calls: list[dict] = []
        self.refuse: str | None = None
        self.crash = False

    def __call__(self, upload, path):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(MiB), b""):
                digest.update(block)
        self.calls.append({"token": upload.token, "sha256": digest.hexdigest(), "size": path.stat().st_size,
                           "filename": upload.filename, "path": path})
        if self.crash:
            raise RuntimeError("storage is down")
        if self.refuse:
            raise ValidationError(self.refuse)
        recording = m.Recording.create(candidate=upload.candidate_id, interview=upload.interview_id,
                                       original_name=upload.filename, size_bytes=path.stat().st_size,
                                       sha256=digest.hexdigest())
        return recording.id


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def completions(app):
    # Before any request: Flask refuses new blueprints once an app has served one.
    init_app(app)
    handler = Completions()
    register_completion_handler(app, handler)
    return handler


@pytest.fixture
def hr(db, make_user, completions):
    return make_user("hana", roles=("hr",))


@pytest.fixture
def candidate(db, hr):
    return m.Candidate.create(organisation=default_organisation(), name="Emily Carter")


@pytest.fixture
def token(hr):
    return create_api_token(hr, "ats")[1]


def auth(token, **headers):
    return {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}", **headers}


def encode_metadata(**pairs) -> str:
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in pairs.items())


def create(client, headers, length, prefix=API, **meta):
    return client.post(prefix, headers={**headers, "Upload-Length": str(length), "Upload-Metadata": encode_metadata(**meta)})


def new_upload(client, headers, candidate, length, prefix=API, **meta) -> str:
    response = create(client, headers, length, prefix, **{"candidate_id": candidate.id, "filename": "interview.webm", **meta})
    assert response.status_code == 201, response.get_json()
    return response.headers["Location"]


def patch(client, url, headers, offset, data=b"", **kwargs):
    headers = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset), **headers}
    return client.patch(url, headers=headers, data=data, **kwargs)


def head_offset(client, url, headers) -> int:
    response = client.head(url, headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    return int(response.headers["Upload-Offset"])


def part_files(settings):
    directory = parts.uploads_dir(settings["data_dir"])
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


# --- the protocol --------------------------------------------------------------------------


def test_options_announces_the_protocol_without_auth(client, completions):
    response = client.options(API)
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "termination", "expiration", "checksum"}
    assert int(response.headers["Tus-Max-Size"]) == 8 * 1024**3
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")


def test_round_trip_in_chunks(client, settings, candidate, token, completions):
    data = os.urandom(5 * MiB + 12345)
    headers = auth(token)
    response = create(client, headers, len(data), candidate_id=candidate.id, filename="round 1.webm", filetype="video/webm")
    assert response.status_code == 201
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in response.headers
    url = response.headers["Location"]
    assert url.startswith(API) and len(url) == len(API) + 32
    assert head_offset(client, url, headers) == 0

    offset = 0
    for size in (2 * MiB, 2 * MiB, len(data) - 4 * MiB):
        response = patch(client, url, headers, offset, data[offset:offset + size])
        assert response.status_code == 204, response.get_json()
        offset += size
        assert int(response.headers["Upload-Offset"]) == offset
        assert head_offset(client, url, headers) == offset
    recording_id = int(response.headers[RECORDING_HEADER])

    assert len(completions.calls) == 1
    call = completions.calls[0]
    assert call["sha256"] == hashlib.sha256(data).hexdigest() and call["size"] == len(data)
    assert call["filename"] == "round 1.webm"
    assert not call["path"].exists(), "the part file goes once the handler returned"
    assert part_files(settings) == []
    recording = m.Recording.get_by_id(recording_id)
    assert (recording.candidate_id, recording.sha256) == (candidate.id, hashlib.sha256(data).hexdigest())

    status = client.get(url, headers=headers).get_json()
    assert status["state"] == "complete" and status["recording_id"] == recording_id and status["offset"] == len(data)
    # A client that lost the last answer asks again: same recording, no second completion.
    again = patch(client, url, headers, len(data))
    assert again.status_code == 204 and int(again.headers[RECORDING_HEADER]) == recording_id
    assert len(completions.calls) == 1


def test_head_repeats_the_metadata(client, candidate, token):
    url = new_upload(client, auth(token), candidate, 10, filetype="video/mp4")
    response = client.head(url, headers=auth(token))
    pairs = metadata.parse(response.headers["Upload-Metadata"])
    assert pairs == {"filename": "interview.webm", "filetype": "video/mp4", "candidate_id": str(candidate.id)}
    assert response.headers["Upload-Length"] == "10"


class DroppingStream(io.BytesIO):
    """A request body whose connection breaks after `keep` bytes."""

    def __init__(self, data: bytes, keep: int):
        super().__init__(data)
        self.keep = keep

    def read(self, size=-1):
        if self.tell() >= self.keep:
            raise ConnectionResetError("peer went away")
        return super().read(min(size if size >= 0 else self.keep, self.keep - self.tell()))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def test_resume_after_a_dropped_connection(client, settings, candidate, token, completions):
    data = os.urandom(3 * MiB + 777)
    headers = auth(token)
    url = new_upload(client, headers, candidate, len(data))
    keep = MiB + MiB // 2 + 123  # not a multiple of the block size
    response = client.patch(url, input_stream=DroppingStream(data, keep), content_length=len(data),
                            headers={**headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
    assert response.status_code == 400
    assert int(response.headers["Upload-Offset"]) == keep

    offset = head_offset(client, url, headers)
    assert offset == keep  # every byte that arrived was kept, and only those
    assert patch(client, url, headers, offset, data[offset:]).status_code == 204
    assert [c["sha256"] for c in completions.calls] == [hashlib.sha256(data).hexdigest()]


def test_reported_offsets_are_on_disk(tmp_path, monkeypatch):
    # Within one long PATCH the offset is recorded at checkpoints; each must already be on disk.
    monkeypatch.setattr(parts, "CHECKPOINT_BYTES", 256 * 1024)
    path = tmp_path / ("a" * 32 + ".part")
    parts.create(path)
    data = os.urandom(MiB + 5)
    reported = []
    with parts.PartFile(path) as part:
        final = part.receive(io.BytesIO(data), 0, len(data), lambda offset: reported.append((offset, path.stat().st_size)))
    assert final == len(data)
    assert len(reported) >= 2 and all(offset == size for offset, size in reported)
    assert reported[-1][0] == len(data) and path.read_bytes() == data


def test_wrong_offset_conflicts(client, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    assert patch(client, url, auth(token), 0, b"x" * 10).status_code == 204
    response = patch(client, url, auth(token), 5, b"y" * 10)
    assert response.status_code == 409
    assert response.headers["Upload-Offset"] == "10" and "error" in response.get_json()
    assert head_offset(client, url, auth(token)) == 10


def test_wrong_content_type_is_refused(client, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    response = client.patch(url, headers={**auth(token), "Upload-Offset": "0", "Content-Type": "application/octet-stream"}, data=b"x")
    assert response.status_code == 415
    assert head_offset(client, url, auth(token)) == 0


def test_bytes_beyond_the_declared_length_are_refused(client, settings, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    assert patch(client, url, auth(token), 0, b"x" * 60).status_code == 204
    assert patch(client, url, auth(token), 60, b"x" * 41).status_code == 413
    # Without a Content-Length (a chunked body) the excess is found while reading: none of it is kept.
    response = client.patch(url, input_stream=io.BytesIO(b"y" * 50), environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
                            headers={**auth(token), "Content-Type": "application/offset+octet-stream", "Upload-Offset": "60"})
    assert response.status_code == 413
    assert head_offset(client, url, auth(token)) == 60
    path = parts.part_path(settings["data_dir"], url.rsplit("/", 1)[1])
    assert path.stat().st_size == 60


def test_files_over_the_limit_are_refused_at_creation(client, candidate, token):
    response = create(client, auth(token), 8 * 1024**3 + 1, candidate_id=candidate.id)
    assert response.status_code == 413
    assert m.Upload.select().count() == 0


@pytest.fixture
def small_limit(settings):
    settings["max_upload_bytes"] = 1000


def test_configured_limit_is_the_one_enforced(small_limit, client, candidate, token):
    assert client.options(API).headers["Tus-Max-Size"] == "1000"
    response = create(client, auth(token), 1001, candidate_id=candidate.id)
    assert response.status_code == 413 and "1000" in response.get_json()["error"]
    assert create(client, auth(token), 1000, candidate_id=candidate.id).status_code == 201


def test_a_lowered_limit_stops_uploads_in_flight(app, client, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    state = app.extensions["talentreel"]
    state.settings = MappingProxyType({**state.settings, "max_upload_bytes": 50})
    response = patch(client, url, auth(token), 0, b"x" * 10)
    assert response.status_code == 413 and "50 bytes" in response.get_json()["error"]
    assert head_offset(client, url, auth(token)) == 0


@pytest.mark.parametrize("headers, status", [
    ({}, 400),  # no Upload-Length
    ({"Upload-Length": "0"}, 400),  # an empty file
    ({"Upload-Length": "-5"}, 400),
    ({"Upload-Length": "12abc"}, 400),
    ({"Upload-Defer-Length": "1"}, 400),
])
def test_creation_needs_a_length(client, candidate, token, headers, status):
    response = client.post(API, headers={**auth(token), "Upload-Metadata": encode_metadata(candidate_id=candidate.id), **headers})
    assert response.status_code == status
    assert response.get_json()["error"]
    assert m.Upload.select().count() == 0


def test_creation_needs_a_visible_candidate(client, db, candidate, token, make_user):
    assert client.post(API, headers={**auth(token), "Upload-Length": "10"}).status_code == 400
    assert client.post(API, headers={**auth(token), "Upload-Length": "10", "Upload-Metadata": "candidate_id !!!"}).status_code == 400
    assert create(client, auth(token), 10, candidate_id=999999).status_code == 404
    assert create(client, auth(token), 10, candidate_id="99999999999999999999999").status_code == 404
    # Another organisation's candidate does not exist, as far as this user can tell.
    other = m.Candidate.create(organisation=m.Organisation.create(name="Elsewhere"), name="X")
    assert create(client, auth(token), 10, candidate_id=other.id).status_code == 404
    # An interviewer sees the candidate of an interview they hold, but may not add recordings.
    interviewer = make_user("ivan", roles=("interviewer",))
    interview = m.Interview.create(candidate=candidate)
    m.InterviewInterviewer.create(interview=interview, user=interviewer)
    their_token = create_api_token(interviewer, "t")[1]
    assert create(client, auth(their_token), 10, candidate_id=candidate.id).status_code == 403
    # The interview must be one of this candidate's.
    stranger = m.Candidate.create(organisation=default_organisation(), name="Y")
    assert create(client, auth(token), 10, candidate_id=stranger.id, interview_id=interview.id).status_code == 404
    response = create(client, auth(token), 10, candidate_id=candidate.id, interview_id=interview.id)
    assert response.status_code == 201
    assert m.Upload.get().interview_id == interview.id
    assert m.Upload.select().count() == 1


def test_tus_version_is_required(client, candidate, token):
    response = client.post(API, headers={"Authorization": f"Bearer {token}", "Upload-Length": "10"})
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"


def test_checksums_are_verified(client, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    good = base64.b64encode(hashlib.sha1(b"a" * 40).digest()).decode()
    assert patch(client, url, {**auth(token), "Upload-Checksum": f"sha1 {good}"}, 0, b"a" * 40).status_code == 204
    response = patch(client, url, {**auth(token), "Upload-Checksum": f"sha1 {good}"}, 40, b"b" * 40)
    assert response.status_code == 460
    assert head_offset(client, url, auth(token)) == 40
    assert patch(client, url, {**auth(token), "Upload-Checksum": f"crc99 {good}"}, 40, b"b").status_code == 400


def test_termination(client, settings, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    patch(client, url, auth(token), 0, b"x" * 10)
    assert part_files(settings) == [url.rsplit("/", 1)[1] + ".part"]
    assert client.delete(url, headers=auth(token)).status_code == 204
    assert part_files(settings) == []
    assert m.Upload.select().count() == 0
    assert client.head(url, headers=auth(token)).status_code == 404
    assert patch(client, url, auth(token), 10, b"x").status_code == 404


def test_a_busy_upload_is_locked(client, settings, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    with parts.PartFile(parts.part_path(settings["data_dir"], url.rsplit("/", 1)[1])):
        assert patch(client, url, auth(token), 0, b"x").status_code == 423
        assert client.delete(url, headers=auth(token)).status_code == 423
        assert head_offset(client, url, auth(token)) == 0  # reading the offset needs no lock


# --- completion ----------------------------------------------------------------------------


def test_a_refused_file_leaves_nothing_behind(client, settings, candidate, token, completions):
    completions.refuse = "This is not a video: no audio or video stream was found."
    body = b"not a video at all, just text"
    url = new_upload(client, auth(token), candidate, len(body))
    response = patch(client, url, auth(token), 0, body)
    assert response.status_code == 422
    assert response.get_json()["error"] == completions.refuse
    assert part_files(settings) == []
    assert m.Recording.select().count() == 0
    assert client.head(url, headers=auth(token)).status_code == 422
    assert client.get(url, headers=auth(token)).get_json()["error"] == completions.refuse
    assert patch(client, url, auth(token), len(body)).status_code == 422
    assert len(completions.calls) == 1


def test_a_failing_handler_keeps_the_file_for_a_retry(app, client, settings, candidate, token, completions):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production, not raise into the test
    completions.crash = True
    url = new_upload(client, auth(token), candidate, 20)
    response = patch(client, url, auth(token), 0, b"y" * 20)
    assert response.status_code == 500 and response.get_json()["error"]
    assert part_files(settings) == [url.rsplit("/", 1)[1] + ".part"]
    completions.crash = False
    response = patch(client, url, auth(token), 20)  # an empty PATCH at the end completes again
    assert response.status_code == 204 and response.headers[RECORDING_HEADER]
    assert part_files(settings) == [] and len(completions.calls) == 2


def test_without_a_handler_nothing_is_lost(app, client, settings, candidate, token):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    del app.extensions["talentreel_ingest"]["completion_handler"]
    url = new_upload(client, auth(token), candidate, 5)
    assert patch(client, url, auth(token), 0, b"12345").status_code == 500
    assert part_files(settings) == [url.rsplit("/", 1)[1] + ".part"]


# --- who may do what -----------------------------------------------------------------------


def test_another_users_upload_is_not_found(client, candidate, token, make_user):
    url = new_upload(client, auth(token), candidate, 100)
    other = create_api_token(make_user("olga", roles=("hr",)), "t")[1]
    assert client.head(url, headers=auth(other)).status_code == 404
    assert client.get(url, headers=auth(other)).status_code == 404
    assert patch(client, url, auth(other), 0, b"x").status_code == 404
    assert client.delete(url, headers=auth(other)).status_code == 404
    assert head_offset(client, url, auth(token)) == 0
    assert client.head(API + "0" * 32, headers=auth(token)).status_code == 404


def test_api_needs_a_token_and_ignores_cookies(client, hr, candidate, login):
    login(hr)
    response = create(client, {"Tus-Resumable": "1.0.0"}, 10, candidate_id=candidate.id)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = create(client, auth("trk_not-a-token"), 10, candidate_id=candidate.id)
    assert bad.status_code == 401
    assert m.Upload.select().count() == 0


def test_browser_path_needs_the_csrf_token(client, settings, hr, candidate, login, completions):
    assert client.head(WEB + "0" * 32, headers={"Tus-Resumable": "1.0.0"}).status_code == 401  # anonymous
    login(hr)
    csrf = csrf_token_from(client.get("/").get_data(as_text=True))
    browser = {"Tus-Resumable": "1.0.0"}
    refused = create(client, browser, 10, prefix=WEB, candidate_id=candidate.id)
    assert refused.status_code == 400 and refused.is_json
    assert m.Upload.select().count() == 0

    url = new_upload(client, {**browser, "X-CSRFToken": csrf}, candidate, 10, prefix=WEB)
    assert url.startswith(WEB)
    assert patch(client, url, browser, 0, b"0123456789").status_code == 400
    assert head_offset(client, url, browser) == 0
    done = patch(client, url, {**browser, "X-CSRFToken": csrf}, 0, b"0123456789")
    assert done.status_code == 204 and done.headers[RECORDING_HEADER]
    assert completions.calls[0]["sha256"] == hashlib.sha256(b"0123456789").hexdigest()


def test_uploader_script_is_served(client, completions):
    response = client.get("/uploads/static/upload.js")
    assert response.status_code == 200
    assert "javascript" in response.content_type
    assert b"export async function uploadRecording" in response.data


def test_file_names_from_the_client_never_touch_the_disk(client, settings, candidate, token, tmp_path):
    hostile = "../../../../" + str(tmp_path / "escaped.mp4")
    url = new_upload(client, auth(token), candidate, 4, filename=hostile)
    upload = m.Upload.get()
    assert upload.filename == "escaped.mp4"
    assert part_files(settings) == [upload.token + ".part"]
    assert patch(client, url, auth(token), 0, b"abcd").status_code == 204
    assert not (tmp_path / "escaped.mp4").exists()


@pytest.mark.parametrize("raw, clean", [
    ("..\\..\\windows\\evil.mp4", "evil.mp4"),
    ("/etc/passwd", "passwd"),
    ("..", None),
    ("", None),
    ("clip\u202egpj.exe", "clipgpj.exe"),
    ("a\x00b\nc.mp4", "abc.mp4"),
    ("面试 第一轮.webm", "面试 第一轮.webm"),
    ("x" * 300 + ".webm", "x" * 250 + ".webm"),
])
def test_clean_filename(raw, clean):
    assert metadata.clean_filename(raw) == clean


@pytest.mark.parametrize("header", ["a b c", "bad key", "k !!!", "k " + base64.b64encode(b"\xff").decode(), "a,a"])
def test_malformed_metadata(header):
    with pytest.raises(metadata.MetadataError):
        metadata.parse(header)


def test_metadata_round_trip():
    pairs = {"filename": "面试.webm", "candidate_id": "7", "flag": None}
    assert metadata.parse(metadata.encode(pairs) + ",flag") == pairs


# --- expiry and cleanup --------------------------------------------------------------------


def _age(upload_url, hours):
    token = upload_url.rsplit("/", 1)[1]
    m.Upload.update(updated_at=m.utcnow() - dt.timedelta(hours=hours)).where(m.Upload.token == token).execute()


def test_an_expired_upload_is_gone(client, candidate, token):
    url = new_upload(client, auth(token), candidate, 100)
    _age(url, 25)
    assert client.head(url, headers=auth(token)).status_code == 410
    assert patch(client, url, auth(token), 0, b"x").status_code == 410


def test_cleanup_removes_abandoned_uploads_and_orphans(client, settings, candidate, token):
    data_dir = settings["data_dir"]
    fresh = new_upload(client, auth(token), candidate, 100)
    stale = new_upload(client, auth(token), candidate, 100)
    busy = new_upload(client, auth(token), candidate, 100)
    patch(client, stale, auth(token), 0, b"x" * 50)
    _age(stale, 25)
    _age(busy, 25)
    orphan = parts.part_path(data_dir, "f" * 32)
    orphan.write_bytes(b"left behind")
    stranger = parts.uploads_dir(data_dir) / "README.txt"  # not a part file: not ours to delete
    stranger.write_text("keep me")

    with parts.PartFile(parts.part_path(data_dir, busy.rsplit("/", 1)[1])):
        counts = remove_abandoned_uploads(data_dir)
    assert counts == {"expired": 1, "orphans": 1, "busy": 1}
    remaining = {u.token for u in m.Upload.select()}
    assert remaining == {fresh.rsplit("/", 1)[1], busy.rsplit("/", 1)[1]}
    assert sorted(part_files(settings)) == sorted(["README.txt"] + [t + ".part" for t in remaining])
    assert client.head(stale, headers=auth(token)).status_code == 404

    # The age is an argument: a maintenance run may be stricter than the default.
    assert remove_abandoned_uploads(data_dir, max_age=dt.timedelta(0)) == {"expired": 2, "orphans": 0, "busy": 0}
    assert part_files(settings) == ["README.txt"]


def test_cleanup_removes_finished_receipts(client, settings, candidate, token):
    url = new_upload(client, auth(token), candidate, 3)
    assert patch(client, url, auth(token), 0, b"abc").status_code == 204
    assert remove_abandoned_uploads(settings["data_dir"]) == {"expired": 0, "orphans": 0, "busy": 0}
    _age(url, 25)
    assert remove_abandoned_uploads(settings["data_dir"]) == {"expired": 1, "orphans": 0, "busy": 0}
    assert m.Recording.select().count() == 1  # the recording is not the upload's to remove


def test_uploads_table_migration(db):
    assert 3 in schema.applied_versions(db)
    assert schema.migrate(db) == []
    with db.connection_context():
        db.drop_tables([m.Upload])
        m.SchemaVersion.delete().where(m.SchemaVersion.version == 3).execute()
    assert schema.migrate(db) == [3]
    assert db.table_exists("upload")
