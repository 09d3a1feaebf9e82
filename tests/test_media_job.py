"""The media jobs (workers/media.py) around the engine: the stored original decrypted into the
scratch directory, video.mp4 stored encrypted and the recording ready, then its pictures by the
job that queues; nothing stored when the original is damaged."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.encryption.errors import IntegrityError
from talentreel.server.recordings import ORIGINAL, OUTPUT_NAMES, PICTURE_NAMES, PICTURES_JOB, has_pictures, ingest_file, object_key
from talentreel.workers import base as worker_base
from talentreel.workers.media import make_pictures, process_recording


@pytest.fixture
def recording(app, db):
    worker_base.set_app(app)
    candidate = m.Candidate.create(organisation=default_organisation(), name="A")
    return ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "legacy_h264.flv", candidate=candidate,
                       original_name="legacy.flv", enqueue=False)


def test_the_job_decrypts_the_original_and_stores_every_output(app, recording):
    store = app.extensions["talentreel"].store
    assert process_recording(recording.id) == {"state": "ready", "how": "remux"}
    ready = m.Recording.get_by_id(recording.id)
    assert ready.state == "ready" and not has_pictures(ready)  # playable before its pictures
    assert store.exists(object_key(recording.id, "video.mp4"))
    assert not any(store.exists(object_key(recording.id, name)) for name in PICTURE_NAMES)
    queued = m.WorkItem.get((m.WorkItem.func == PICTURES_JOB) & (m.WorkItem.queue == "media"))
    assert queued.args == [recording.id]
    video = store.open_range(object_key(recording.id, "video.mp4")).read_all()
    assert video[4:8] == b"ftyp" and video.index(b"moov") < video.index(b"mdat")  # faststart

    assert make_pictures(recording.id) == {"pictures": sorted(PICTURE_NAMES)}
    for name in OUTPUT_NAMES:
        assert store.exists(object_key(recording.id, name))
    assert has_pictures(m.Recording.get_by_id(recording.id))
    poster = store.open_range(object_key(recording.id, "poster.jpg")).read_all()
    assert poster[:3] == b"\xff\xd8\xff"  # a JPEG


def test_processing_again_keeps_the_pictures_until_new_ones_replace_them(app, recording):
    store = app.extensions["talentreel"].store
    process_recording(recording.id)
    make_pictures(recording.id)
    sprite = store.open_range(object_key(recording.id, "sprite.json")).read_all()
    process_recording(recording.id)
    again = m.Recording.get_by_id(recording.id)
    assert has_pictures(again) and store.exists(object_key(recording.id, "poster.jpg"))
    make_pictures(recording.id)
    assert store.open_range(object_key(recording.id, "sprite.json")).read_all() == sprite
    assert sorted(store.backend.keys(f"recordings/{recording.id}/")) == sorted(
        object_key(recording.id, name) for name in (ORIGINAL, *OUTPUT_NAMES))  # one set


def test_the_job_trusts_the_probe_ingest_validated(app, recording, monkeypatch):
    """ingest_file validated the original whole and stored its probe: the job neither probes the
    original again nor reads it through for the completeness check."""
    from talentreel.server.media import pipeline

    assert m.Recording.get_by_id(recording.id).media["probe"]["format"] == "flv"
    monkeypatch.setattr(pipeline, "check_complete", lambda *args: pytest.fail("checked again"))
    real_probe = pipeline.probe
    probed = []
    monkeypatch.setattr(pipeline, "probe", lambda path: probed.append(path.name) or real_probe(path))
    assert process_recording(recording.id)["state"] == "ready"
    assert probed == ["video.mp4"]


def test_a_recording_without_a_readable_probe_is_probed_and_checked(app, recording, monkeypatch):
    from talentreel.server.media import pipeline

    m.Recording.update(media={"probe": {"format": "flv", "from": "an older version"}}).where(m.Recording.id == recording.id).execute()
    checked = []
    real_check = pipeline.check_complete
    monkeypatch.setattr(pipeline, "check_complete", lambda *args: checked.append(1) or real_check(*args))
    assert process_recording(recording.id)["state"] == "ready"
    assert checked == [1]


def test_pictures_of_a_recording_not_ready_are_skipped(app, recording):
    assert "skipped" in make_pictures(recording.id)  # still "uploaded": nothing to make them from
    assert "skipped" in make_pictures(recording.id + 1000)  # gone (erased)


def test_a_damaged_original_fails_the_job_and_stores_nothing(app, recording):
    store = app.extensions["talentreel"].store
    path = store.backend.path(object_key(recording.id, ORIGINAL))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit in a segment in the middle: its tag fails while decrypting
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        process_recording(recording.id)
    assert m.Recording.get_by_id(recording.id).state == "failed"
    assert not any(store.exists(object_key(recording.id, name)) for name in OUTPUT_NAMES)


def test_pictures_that_cannot_be_made_leave_the_recording_ready(app, recording, monkeypatch, caplog):
    """pictures.make's own refusal (no picture decodes) is final: not retried, the replay plays."""
    import av

    from talentreel.server.media import pictures

    def undecodable(*args, **kwargs):
        raise av.error.InvalidDataError(0, "no picture can be decoded")

    process_recording(recording.id)
    monkeypatch.setattr(pictures, "make", undecodable)
    assert "no picture can be decoded" in make_pictures(recording.id)["failed"]
    after = m.Recording.get_by_id(recording.id)
    assert after.state == "ready" and not has_pictures(after)
    assert not any(app.extensions["talentreel"].store.exists(object_key(recording.id, name)) for name in PICTURE_NAMES)
    assert "no poster or sprite" in caplog.text
