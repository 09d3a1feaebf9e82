"""Resumable uploads with the real completion handler (recordings.complete_upload): a recording
arrives probed, encrypted and queued; bad input answers with a reason and leaves nothing stored."""

from __future__ import annotations

import base64
import hashlib

import pytest
from conftest import FIXTURES

from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.ingest import init_app, parts, register_completion_handler
from talentreel.server.ingest.tus import RECORDING_HEADER
from talentreel.server.recordings import MEDIA_JOB, ORIGINAL, complete_upload, object_key

API = "/api/v1/uploads/"
INTERVIEW = FIXTURES / "interview_en"
MiB = 1024 * 1024


@pytest.fixture
def setup(app, db, make_user):
    init_app(app)
    state = app.extensions["talentreel"]
    register_completion_handler(app, lambda upload, path: complete_upload(state, upload, path))
    user = make_user("hana", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Emily Carter")
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {create_api_token(user, 'ats')[1]}"}
    return state, candidate, headers


def upload(client, headers, candidate, data: bytes, name: str, chunk: int = 128 * 1024):
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"candidate_id": str(candidate.id), "filename": name}.items())
    created = client.post(API, headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    assert created.status_code == 201, created.get_json()
    url = created.headers["Location"]
    offset = 0
    while True:
        response = client.patch(url, data=data[offset:offset + chunk], headers={
            **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)})
        if response.status_code != 204 or RECORDING_HEADER in response.headers:
            return response
        offset = int(response.headers["Upload-Offset"])


def test_a_recording_arrives_stored_and_queued(client, settings, setup):
    state, candidate, headers = setup
    data = (INTERVIEW / "interview.mp4").read_bytes()
    response = upload(client, headers, candidate, data, "round-1.mp4")
    assert response.status_code == 204, response.get_json()
    recording = m.Recording.get_by_id(int(response.headers[RECORDING_HEADER]))
    assert (recording.candidate_id, recording.original_name, recording.size_bytes) == (candidate.id, "round-1.mp4", len(data))
    assert recording.duration_seconds > 60
    with state.store.open(object_key(recording.id, ORIGINAL)) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert [(w.func, w.args) for w in m.WorkItem.select()] == [(MEDIA_JOB, [recording.id])]
    assert list(parts.uploads_dir(settings["data_dir"]).iterdir()) == []


@pytest.mark.parametrize("fixture", ["not_a_video.mp4", "truncated.mp4"])
def test_bad_files_are_refused_and_leave_nothing(client, settings, setup, fixture):
    state, candidate, headers = setup
    response = upload(client, headers, candidate, (INTERVIEW / fixture).read_bytes(), fixture)
    assert response.status_code == 422
    assert response.get_json()["error"]
    assert m.Recording.select().count() == 0
    assert m.WorkItem.select().count() == 0
    assert list(parts.uploads_dir(settings["data_dir"]).iterdir()) == []
    assert m.Upload.get().state == "failed"
