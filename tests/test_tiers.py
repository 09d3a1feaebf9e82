"""Hot and cold storage tiers: the local backend's second root and the tiering jobs."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from argon2 import PasswordHasher

from conftest import FIXTURES
from talentreel.plugins.storage_local import LocalStorage
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.maintenance import bring_back_recording, move_cold_recordings
from talentreel.workers.media import process_recording


def test_local_backend_moves_objects_between_roots(tmp_path):
    storage = LocalStorage(tmp_path / "hot", tmp_path / "cold")
    storage.put("recordings/1/video.mp4", io.BytesIO(b"x" * 5000))
    assert storage.tier("recordings/1/video.mp4") == "hot"
    storage.set_tier("recordings/1/video.mp4", "cold")
    assert storage.tier("recordings/1/video.mp4") == "cold"
    assert not (tmp_path / "hot/recordings/1/video.mp4").exists()
    assert storage.open("recordings/1/video.mp4").read() == b"x" * 5000  # readable where it is
    assert list(storage.keys("recordings/")) == ["recordings/1/video.mp4"]
    storage.set_tier("recordings/1/video.mp4", "cold")  # already there: nothing happens
    storage.set_tier("recordings/1/video.mp4", "hot")
    assert storage.tier("recordings/1/video.mp4") == "hot" and not (tmp_path / "cold/recordings/1/video.mp4").exists()
    storage.put("recordings/1/video.mp4", io.BytesIO(b"new"))
    storage.set_tier("recordings/1/video.mp4", "cold")
    storage.put("recordings/1/video.mp4", io.BytesIO(b"newer"))  # a put lands hot and drops the cold copy
    assert storage.tier("recordings/1/video.mp4") == "hot" and storage.open("recordings/1/video.mp4").read() == b"newer"
    with pytest.raises(ValueError):
        storage.set_tier("recordings/1/video.mp4", "lukewarm")


def test_without_a_cold_root_there_is_one_tier(tmp_path):
    storage = LocalStorage(tmp_path / "hot")
    storage.put("a/b", io.BytesIO(b"1"))
    storage.set_tier("a/b", "cold")
    assert storage.tier("a/b") == "hot"


@pytest.fixture
def settings(settings, tmp_path):
    settings["storage_cold_path"] = str(tmp_path / "cold")
    settings["cold_after_days"] = 30
    return settings


def test_unplayed_recordings_go_cold_and_come_back_when_played(app, db, make_user, login, client, monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    candidate = m.Candidate.create(organisation=default_organisation(), name="A")
    recording = ingest_file(state, FIXTURES / "interview_en" / "interview.mp4", candidate=candidate, original_name="i.mp4")
    process_recording(recording.id)
    fresh = ingest_file(state, FIXTURES / "interview_en" / "interview.mp4", candidate=candidate, original_name="fresh.mp4")
    process_recording(fresh.id)
    m.Recording.update(created_at=m.utcnow() - dt.timedelta(days=40)).where(m.Recording.id == recording.id).execute()

    assert move_cold_recordings() == {"moved": 1}
    assert m.Recording.get_by_id(recording.id).tier == "cold"
    assert m.Recording.get_by_id(fresh.id).tier == "hot"
    assert {state.storage.tier(k) for k in state.storage.keys(f"recordings/{recording.id}/")} == {"cold"}

    login(make_user("hr1", roles=("hr",)))
    html = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    token = re.search(r'src="/media/([^/"]+)/video.mp4"', html).group(1)
    response = client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-1023"})
    assert response.status_code == 206 and len(response.get_data()) == 1024  # plays straight from cold
    queued = m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.maintenance.bring_back_recording")
    assert queued.count() == 1
    client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-1023"})
    assert queued.count() == 1  # queued once, not per request

    assert bring_back_recording(recording.id) == {"moved": True}
    assert m.Recording.get_by_id(recording.id).tier == "hot"
    assert {state.storage.tier(k) for k in state.storage.keys(f"recordings/{recording.id}/")} == {"hot"}
