"""The whole recording path on the production shape: the database under test (PostgreSQL in CI's
second run), a real Redis with a real worker, and the `s3` backend on moto's S3 server."""

from __future__ import annotations

import pytest
import redis as redis_lib

from conftest import FIXTURES, REDIS_SERVER
from talentreel.server import jobs, models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.recordings import OUTPUT_NAMES, has_pictures, ingest_file, object_key
from talentreel.workers.worker import run_worker

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(settings, s3_endpoint, s3_bucket):
    settings.update(storage_backend="s3", s3_endpoint_url=s3_endpoint, s3_bucket=s3_bucket, s3_access_key="testing",
                    s3_secret_key="testing", s3_region="us-east-1", redis_url=f"{REDIS_SERVER}/11")
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


def test_ingest_process_and_range_on_s3(app, db, make_user, login, client):
    state = app.extensions["talentreel"]
    candidate = m.Candidate.create(organisation=default_organisation(), name="S3 candidate")
    recording = ingest_file(state, FIXTURES / "interview_en" / "legacy_h264.flv", candidate=candidate, original_name="legacy_h264.flv")
    run_worker(app, ["media"], burst=True)
    recording = m.Recording.get_by_id(recording.id)
    assert recording.state == "ready", recording.error
    assert recording.media["how"] == "remux"
    keys = sorted(state.storage.keys(f"recordings/{recording.id}/"))
    # The burst worker ran the media job and then the pictures job it queued.
    assert keys == sorted(object_key(recording.id, name) for name in ("original", *OUTPUT_NAMES))
    assert has_pictures(recording)
    raw = state.storage.open(object_key(recording.id, "video.mp4")).read(4)
    assert raw == b"TREN"  # ciphertext in the bucket

    login(make_user("hr_s3", roles=("hr",)))
    import re

    token = re.search(r'src="/media/([^/"]+)/video.mp4"', client.get(f"/recordings/{recording.id}").get_data(as_text=True)).group(1)
    whole = client.get(f"/media/{token}/video.mp4").get_data()
    part = client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=200000-265535"})
    assert part.status_code == 206 and part.get_data() == whole[200000:265536]
    assert jobs.queue_depths(jobs.connect(state.settings))["media"] == 0
