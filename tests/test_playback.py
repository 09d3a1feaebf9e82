"""From a file to a replay: ingest, the media job, encrypted storage and the Range endpoint."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil

import pytest
from argon2 import PasswordHasher

from conftest import FIXTURES, PASSWORD, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation, set_active
from talentreel.server.auth import passwords
from talentreel.server.errors import ValidationError
from talentreel.server.playback import tokens
from talentreel.server.recordings import ingest_file, object_key
from talentreel.workers import base as worker_base
from talentreel.workers.media import make_pictures, process_recording

INTERVIEW = FIXTURES / "interview_en"


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def state(app):
    worker_base.set_app(app)  # the job runs in this process, as a worker's work horse would
    return app.extensions["talentreel"]


@pytest.fixture
def hr(make_user):
    return make_user("hr_reviewer", roles=("hr",))


@pytest.fixture
def candidate(db, hr):
    return m.Candidate.create(organisation=default_organisation(), name="Zhang Wei", email="zw@example.com")


@pytest.fixture(scope="module")
def _processed_cache():
    return {}


@pytest.fixture
def ready(state, candidate, hr):
    """interview.mp4 ingested and processed: a ready recording."""
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, original_name="interview.mp4", actor=hr)
    assert recording.state == "uploaded"
    process_recording(recording.id)
    make_pictures(recording.id)
    recording = m.Recording.get_by_id(recording.id)
    assert recording.state == "ready", recording.error
    return recording


def replay_token(client, recording) -> str:
    html = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    match = re.search(r'src="/media/([^/"]+)/video.mp4"', html)
    assert match, "replay page has no video"
    return match.group(1)


# --- ingest and the media job -------------------------------------------------------------------


def test_remuxed_and_stored_encrypted(state, ready):
    assert ready.media["how"] == "remux"
    assert ready.sha256 and len(ready.sha256) == 64
    assert 69 < ready.duration_seconds < 71
    storage_root = state.settings["storage_path"]
    for name in ("original", "video.mp4", "poster.jpg", "sprite.jpg", "sprite.json"):
        raw = open(f"{storage_root}/{object_key(ready.id, name)}", "rb").read(64)
        assert raw.startswith(b"TREN"), f"{name} is not stored encrypted"
    # Nothing of the plaintext is at rest: the MP4 box names never appear in the stored bytes.
    stored = open(f"{storage_root}/{object_key(ready.id, 'video.mp4')}", "rb").read()
    assert b"ftyp" not in stored and b"moov" not in stored


def test_the_stored_video_has_its_index_first_and_plays_as_ffmpeg_faststart_would(state, ready, tmp_path):
    from test_media_faststart import TWO_TRACKS, boxes, ffmpeg_mp4, video_packets

    with state.store.open(object_key(ready.id, "video.mp4")) as plain:
        video = plain.read()
    assert [b[0] for b in boxes(video)] == ["ftyp", "moov", "free", "mdat"]
    (tmp_path / "stored.mp4").write_bytes(video)
    reference = ffmpeg_mp4(INTERVIEW / "interview.mp4", tmp_path / "reference.mp4", TWO_TRACKS, fast=True)
    assert video == reference.read_bytes()
    assert video_packets(tmp_path / "stored.mp4") == video_packets(reference)


def test_the_original_is_hashed_once_at_ingest_and_by_the_job_only_when_that_hash_is_missing(state, candidate, monkeypatch):
    from talentreel.server.media import pipeline

    expected = hashlib.sha256((INTERVIEW / "interview.mp4").read_bytes()).hexdigest()
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, original_name="interview.mp4")
    assert m.Recording.get_by_id(recording.id).sha256 == expected  # hashed as it was encrypted

    hashed = []
    real = pipeline._sha256
    monkeypatch.setattr(pipeline, "_sha256", lambda *args: hashed.append(1) or real(*args))
    process_recording(recording.id)
    assert (m.Recording.get_by_id(recording.id).sha256, hashed) == (expected, [])

    # An original stored before ingest hashed it (or by a run killed in between): the job hashes it.
    m.Recording.update(sha256=None).where(m.Recording.id == recording.id).execute()
    process_recording(recording.id)
    assert (m.Recording.get_by_id(recording.id).sha256, hashed) == (expected, [1])


@pytest.mark.parametrize("segment", [1, 5], ids=["first half", "second half"])
def test_a_tampered_original_fails_the_job(state, candidate, segment):
    from talentreel.server.encryption.errors import IntegrityError

    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, original_name="interview.mp4")
    path = f"{state.settings['storage_path']}/{object_key(recording.id, 'original')}"
    data = bytearray(open(path, "rb").read())
    data[49 + segment * (64 * 1024 + 16) + 100] ^= 0x01
    open(path, "wb").write(bytes(data))
    with pytest.raises(IntegrityError):
        process_recording(recording.id)
    recording = m.Recording.get_by_id(recording.id)
    assert recording.state == "failed" and "IntegrityError" in recording.error
    assert not state.storage.exists(object_key(recording.id, "video.mp4"))


def test_running_the_job_twice_leaves_one_set_of_outputs(state, ready):
    process_recording(ready.id)
    make_pictures(ready.id)
    keys = sorted(state.storage.keys(f"recordings/{ready.id}/"))
    assert keys == sorted(object_key(ready.id, n) for n in ("original", "video.mp4", "poster.jpg", "sprite.jpg", "sprite.json"))
    assert m.Recording.get_by_id(ready.id).state == "ready"
    assert m.DataKey.select().where(m.DataKey.object_key.startswith(f"recordings/{ready.id}/")).count() == len(keys)


@pytest.mark.parametrize("name, reason", [("not_a_video.mp4", "not a video"), ("truncated.mp4", "truncated")])
def test_bad_files_are_refused_and_nothing_is_stored(state, candidate, name, reason):
    with pytest.raises(ValidationError, match=f"(?i){reason}|incomplete|damaged|not a recording"):
        ingest_file(state, INTERVIEW / name, candidate=candidate, original_name=name)
    assert m.Recording.select().count() == 0
    assert list(state.storage.keys("recordings/")) == []
    assert m.DataKey.select().count() == 0


@pytest.mark.slow
def test_sorenson_flv_is_transcoded(state, candidate):
    recording = ingest_file(state, INTERVIEW / "legacy_sorenson.flv", candidate=candidate, original_name="legacy_sorenson.flv")
    process_recording(recording.id)
    recording = m.Recording.get_by_id(recording.id)
    assert recording.state == "ready", recording.error
    assert recording.media["how"] == "transcode"
    assert recording.media["output"]["video"]["codec"] == "h264"


# --- the replay page and the media endpoint -------------------------------------------------


@pytest.fixture
def signed_in(client, hr, login):
    login(hr)
    return client


def test_replay_page_and_whole_file(signed_in, ready, app):
    token = replay_token(signed_in, ready)
    anonymous = app.test_client()  # the token alone is the credential: no cookie needed
    response = anonymous.get(f"/media/{token}/video.mp4")
    assert response.status_code == 200
    body = response.get_data()
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Type"] == "video/mp4"
    assert body[4:8] == b"ftyp"
    assert body.find(b"moov") < body.find(b"mdat"), "not faststart"
    assert m.AuditEvent.select().where((m.AuditEvent.action == "recording.play") & (m.AuditEvent.object_id == str(ready.id))).count() == 1


def test_ranges(signed_in, ready, app):
    token = replay_token(signed_in, ready)
    client = app.test_client()
    whole = client.get(f"/media/{token}/video.mp4").get_data()
    total = len(whole)
    for start, end in [(0, 0), (100, 70000), (65535, 65536), (total - 10, total - 1), (123456, 123456 + 1024 * 1024)]:
        end = min(end, total - 1)
        response = client.get(f"/media/{token}/video.mp4", headers={"Range": f"bytes={start}-{end}"})
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes {start}-{end}/{total}"
        assert response.get_data() == whole[start:end + 1]
    suffix = client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.get_data() == whole[-500:]
    beyond = client.get(f"/media/{token}/video.mp4", headers={"Range": f"bytes={total}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{total}"
    malformed = client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=abc"})
    assert malformed.status_code == 200 and len(malformed.get_data()) == total
    head = client.head(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-99"})
    assert head.status_code == 206 and head.headers["Content-Length"] == "100" and head.get_data() == b""


def test_poster_and_sprite_are_served_but_not_the_original(signed_in, ready, app):
    token = replay_token(signed_in, ready)
    client = app.test_client()
    assert client.get(f"/media/{token}/poster.jpg").get_data()[:2] == b"\xff\xd8"
    assert client.get(f"/media/{token}/sprite.json").get_json()
    assert client.get(f"/media/{token}/original").status_code == 404
    assert client.get(f"/media/{token}/audio.wav").status_code == 404
    assert client.get(f"/media/{token}/..%2Foriginal").status_code == 404


def test_bad_expired_and_foreign_tokens(signed_in, ready, app, make_user, monkeypatch):
    token = replay_token(signed_in, ready)
    client = app.test_client()
    assert client.get(f"/media/{token[:-3]}abc/video.mp4").status_code == 403
    # Another signed-in user replaying the link is refused.
    other = make_user("someone_else", roles=("hr",))
    other_client = app.test_client()
    page = other_client.get("/login")
    other_client.post("/login", data={"username": other.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert other_client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-9"}).status_code == 403
    monkeypatch.setattr(tokens, "TOKEN_TTL_SECONDS", -1)
    assert client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-9"}).status_code == 403


def test_disabled_user_and_signed_out_session_stop_playback(signed_in, ready, app, hr, monkeypatch):
    monkeypatch.setattr(tokens, "AUTH_CACHE_SECONDS", 0)
    token = replay_token(signed_in, ready)
    client = app.test_client()
    assert client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-9"}).status_code == 206
    set_active(hr, False)
    assert client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-9"}).status_code == 403
    set_active(hr, True)
    assert client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-9"}).status_code == 403  # its session was revoked


def test_recording_of_a_candidate_out_of_reach_is_404(app, ready, make_user, login, client):
    login(make_user("stranger", roles=("interviewer",)))
    assert client.get(f"/recordings/{ready.id}").status_code == 404
    assert client.get(f"/recordings/{ready.id}/status.json").status_code == 404


def test_tampered_object_is_refused_without_plaintext(signed_in, ready, app, state):
    token = replay_token(signed_in, ready)
    path = f"{state.settings['storage_path']}/{object_key(ready.id, 'video.mp4')}"
    data = bytearray(open(path, "rb").read())
    segment = 64 * 1024 + 16
    data[49 + 2 * segment + 100] ^= 0x01  # a bit in the third segment
    open(path, "wb").write(bytes(data))
    client = app.test_client()
    good = client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-65535"})
    assert good.status_code == 206  # the first segment is intact and still plays
    bad = client.get(f"/media/{token}/video.mp4", headers={"Range": f"bytes={2 * 65536}-{2 * 65536 + 99}"})
    assert bad.status_code == 500
    assert b"integrity" in bad.get_data()


def test_status_reports_processing_progress(signed_in, state, candidate):
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, original_name="i.mp4")
    status = signed_in.get(f"/recordings/{recording.id}/status.json").get_json()
    assert status["state"] == "uploaded"
    assert status["progress"]["state"] == "pending"
    page = signed_in.get(f"/recordings/{recording.id}").get_data(as_text=True)
    assert "being prepared" in page and "<video" not in page
