"""Recordings migrated from the legacy-export sample play in the replay page: the media job makes
their replay MP4 (remux for H.264/AAC, transcode for Sorenson/MP3), the page gives a media URL,
and Range requests on the media endpoint return 206 with bytes that decode as MP4."""

from __future__ import annotations

import re

import av
import pytest
from argon2 import PasswordHasher
from conftest import SHARED

from talentreel.migrators import framework
from talentreel.server import models as m
from talentreel.server.auth import passwords
from talentreel.workers import base as worker_base
from talentreel.workers.media import process_recording

SAMPLE = SHARED / "legacy-export" / "sample"
CHUNK = 64 * 1024


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_migrated_recordings_play_in_the_replay_page(app, client, db, make_user, login, tmp_path):
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    run, _ = framework.start(state, "legacy-export", str(SAMPLE), {"playback_sample": 0})
    report = framework.execute(state, run.id)
    assert report["media"]["remux"] and report["media"]["transcode"]
    login(make_user("hr_reviewer", roles=("hr",)))
    played = {}
    for recording in list(m.Recording.select().order_by(m.Recording.source_ref)):  # requests close the connection
        if len(played) == 2:
            break
        process_recording(recording.id)  # the media job, in this process as a worker's work horse would run it
        recording = m.Recording.get_by_id(recording.id)
        assert recording.state == "ready", recording.error
        if recording.media["how"] in played:
            continue
        played[recording.media["how"]] = recording.source_ref
        html = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
        match = re.search(r'src="(/media/[^/"]+/video.mp4)"', html)
        assert match, "the replay page has no media URL"
        legacy = m.Report.get_or_none(m.Report.recording == recording.id)
        if legacy is not None and legacy.data["legacy"]["comment"]:  # the old assessment shows with the replay
            assert legacy.data["legacy"]["comment"] in html
        player = app.test_client()  # the media URL's token is the credential
        head = player.head(match.group(1))
        total = int(head.headers["Content-Length"])
        body = b""
        while len(body) < total:
            response = player.get(match.group(1), headers={"Range": f"bytes={len(body)}-{min(len(body) + CHUNK, total) - 1}"})
            assert response.status_code == 206
            body += response.get_data()
        path = tmp_path / f"{recording.id}.mp4"
        path.write_bytes(body)
        with av.open(str(path)) as container:
            assert container.format.name.startswith("mov")
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 10
    assert set(played) == {"remux", "transcode"}
