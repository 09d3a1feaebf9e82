"""The media job (workers/media.py) around the engine: the stored original decrypted into the
scratch directory, the outputs stored encrypted, and nothing stored when the original is damaged."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.encryption.errors import IntegrityError
from talentreel.server.recordings import ORIGINAL, OUTPUT_NAMES, ingest_file, object_key
from talentreel.workers import base as worker_base
from talentreel.workers.media import process_recording


@pytest.fixture
def recording(app, db):
    worker_base.set_app(app)
    candidate = m.Candidate.create(organisation=default_organisation(), name="A")
    return ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "legacy_h264.flv", candidate=candidate,
                       original_name="legacy.flv", enqueue=False)


def test_the_job_decrypts_the_original_and_stores_every_output(app, recording):
    store = app.extensions["talentreel"].store
    assert process_recording(recording.id) == {"state": "ready", "how": "remux"}
    for name in OUTPUT_NAMES:
        assert store.exists(object_key(recording.id, name))
    video = store.open_range(object_key(recording.id, "video.mp4")).read_all()
    assert video[4:8] == b"ftyp" and video.index(b"moov") < video.index(b"mdat")  # faststart


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
