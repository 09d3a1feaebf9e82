"""/metrics and the player's beacon: who may scrape, what a scrape shows, and bad beacons."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import redis as redis_lib
from argon2 import PasswordHasher
from prometheus_client.parser import text_string_to_metric_families

from conftest import FIXTURES, REDIS_SERVER
from talentreel.monitoring import backup, jobstats
from talentreel.server import jobs, models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.media import make_pictures, process_recording

REDIS_DB = 9


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def settings(settings):
    settings["redis_url"] = f"{REDIS_SERVER}/{REDIS_DB}"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


def scrape(client, **kwargs) -> dict[str, float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


# --- access -----------------------------------------------------------------------------------


def test_loopback_may_scrape_the_internet_may_not(client, db):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    # Through a reverse proxy on this machine, the request looks local but is not.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


@pytest.fixture
def token_app(settings):
    from talentreel.server import create_app

    app = create_app(dict(settings, metrics_token="s3cret-scrape-token"))
    yield app
    app.extensions["talentreel"].database.close()


def test_bearer_token_lets_a_remote_prometheus_in(token_app):
    client = token_app.test_client()
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert ok.status_code == 200 and b"talentreel_work_items" in ok.data


def test_it_admin_signed_in_may_read_it_from_anywhere(client, make_user, login):
    login(make_user("root_admin", roles=("it_admin",)))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


def test_hr_signed_in_from_outside_may_not(client, make_user, login):
    login(make_user("hr_person", roles=("hr",)))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404


# --- scrape-time figures ----------------------------------------------------------------------


def test_scrape_shows_queues_work_storage_migrations_backup_and_disk(app, client, db):
    settings = app.extensions["talentreel"].settings
    conn = jobs.connect(settings)
    with db.connection_context():
        jobs.enqueue(settings, "media", "talentreel.workers.maintenance.prune_sessions", 1)
        jobs.enqueue(settings, "analysis", "talentreel.workers.maintenance.prune_sessions", 2)
        m.WorkItem.create(queue="media", func="x.y", state="failed")
        candidate = m.Candidate.create(organisation=default_organisation(), name="Li Na")
        m.Recording.create(candidate=candidate, size_bytes=1000, tier="hot")
        m.Recording.create(candidate=candidate, size_bytes=250, tier="cold")
        run = m.MigrationRun.create(kind="legacy_export", location="/x", state="running",
                                    progress={"phase": "candidates", "done": 30, "total": 120})
    jobstats.record_job(conn, "media", 4.0, "done")
    jobstats.record_job(conn, "media", 40.0, "failed")
    jobstats.record_analysis_rtf(conn, 30.0, 60.0)
    backup.record_backup_success(app, dt.datetime(2026, 1, 2, 3, 4, 5))
    backup.record_backup_success(app, dt.datetime(2025, 1, 1))  # older: must not win

    s = scrape(client)
    assert s["talentreel_queue_depth{queue=media}"] == 1
    assert s["talentreel_queue_depth{queue=analysis}"] == 1
    assert s["talentreel_work_items{queue=media,state=pending}"] == 1
    assert s["talentreel_work_items{queue=media,state=failed}"] == 1
    assert s["talentreel_work_items{queue=migration,state=failed}"] == 0
    assert s["talentreel_storage_bytes{tier=hot}"] == 1000
    assert s["talentreel_storage_bytes{tier=cold}"] == 250
    assert s[f"talentreel_migration_progress_ratio{{kind=legacy_export,phase=candidates,run={run.id}}}"] == 0.25
    assert s["talentreel_migration_runs{state=running}"] == 1
    assert s["talentreel_job_duration_seconds_count{queue=media}"] == 2
    assert s["talentreel_job_duration_seconds_sum{queue=media}"] == 44
    assert s["talentreel_job_duration_seconds_bucket{le=5.0,queue=media}"] == 1
    assert s["talentreel_job_duration_seconds_bucket{le=+Inf,queue=media}"] == 2
    assert s["talentreel_job_attempts_total{outcome=failed,queue=media}"] == 1
    assert s["talentreel_job_attempts_total{outcome=done,queue=analysis}"] == 0
    assert s["talentreel_analysis_realtime_factor_bucket{le=0.5}"] == 1
    assert s["talentreel_analysis_realtime_factor_bucket{le=0.25}"] == 0
    assert s["talentreel_backup_last_success_timestamp_seconds{}"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc).timestamp()
    data_disk = [k for k in s if k.startswith("talentreel_disk_free_bytes{") and "role=data" in k]
    assert data_disk and s[data_disk[0]] > 0
    assert s["talentreel_monitoring_source_up{source=database}"] == 1
    assert s["talentreel_monitoring_source_up{source=redis}"] == 1


def test_scrape_without_redis_says_so_and_shows_the_rest(settings):
    from talentreel.server import create_app

    app = create_app(dict(settings, redis_url="redis://127.0.0.1:1/0"))
    s = scrape(app.test_client())
    assert s["talentreel_monitoring_source_up{source=redis}"] == 0
    assert s["talentreel_monitoring_source_up{source=database}"] == 1
    assert "talentreel_work_items{queue=media,state=pending}" in s
    app.extensions["talentreel"].database.close()


def test_backup_age_has_no_series_until_a_backup_succeeded(client, db):
    assert not any(k.startswith("talentreel_backup_last_success") for k in scrape(client))
    with db.connection_context():  # what server/backups/ records: a failed run does not count
        m.BackupRun.create(backup_id="b1", status="failed", target="directory /x", finished_at=dt.datetime(2026, 3, 1))
    assert not any(k.startswith("talentreel_backup_last_success") for k in scrape(client))
    with db.connection_context():
        m.BackupRun.create(backup_id="b2", status="succeeded", target="directory /x", finished_at=dt.datetime(2026, 2, 1))
    assert scrape(client)["talentreel_backup_last_success_timestamp_seconds{}"] == \
        dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc).timestamp()


# --- media time to first byte and the beacon --------------------------------------------------


@pytest.fixture
def ready(app, db, make_user):
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    hr = make_user("hr_viewer", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Wang Fang")
    recording = ingest_file(state, FIXTURES / "interview_en" / "interview.mp4", candidate=candidate,
                            original_name="interview.mp4", actor=hr)
    process_recording(recording.id)
    make_pictures(recording.id)
    assert m.Recording.get_by_id(recording.id).state == "ready"
    return hr, recording


def token_of(client, recording) -> str:
    html = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    assert 'data-beacon="/-/beacon/playback"' in html
    return re.search(r'data-token="([^"]+)"', html).group(1)


def test_playback_metrics_from_media_and_beacons(ready, client, login):
    hr, recording = ready
    login(hr)
    token = token_of(client, recording)
    before = scrape(client)

    def value(samples, key):
        return samples.get(key, 0.0)

    assert client.get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-1023"}).status_code == 206
    assert client.get(f"/media/{token}/poster.jpg").status_code == 200

    def beacon(body, raw=None):
        return client.post("/-/beacon/playback", data=raw if raw is not None else json.dumps(dict(body, token=token)),
                           content_type="application/json")

    assert beacon({"event": "started", "startup_seconds": 1.25}).status_code == 204
    assert beacon({"event": "error", "code": 2}).status_code == 204
    # The same session's outcome twice is counted once.
    assert beacon({"event": "started", "startup_seconds": 1.0}).status_code == 400
    # Garbage: ignored, counted by reason, each answered with what is wrong.
    bad = [
        ({}, b"not json at all", "not_json"),
        ({}, b"[1, 2]", "not_json"),
        ({"event": "exploded", "startup_seconds": 1}, None, "event"),
        ({"event": "failed", "code": 99}, None, "code"),
        ({"event": "failed", "code": True}, None, "code"),
        ({"event": "started", "startup_seconds": -3}, None, "startup_seconds"),
        ({"event": "started", "startup_seconds": "fast"}, None, "startup_seconds"),
        ({}, json.dumps({"event": "started", "startup_seconds": 1, "token": "forged.token"}).encode(), "token"),
        ({}, b"{" + b" " * 5000 + b"}", "too_large"),
    ]
    for body, raw, reason in bad:
        response = beacon(body, raw)
        assert response.status_code == 400, (body, raw)
        assert response.get_json()["error"]
    after = scrape(client)

    def delta(key):
        return value(after, key) - value(before, key)

    assert delta("talentreel_media_ttfb_seconds_count{file=video.mp4}") == 1
    assert delta("talentreel_media_ttfb_seconds_count{file=poster.jpg}") == 1
    assert delta("talentreel_player_startup_seconds_count{}") == 1
    assert delta("talentreel_player_startup_seconds_sum{}") == 1.25
    assert delta("talentreel_player_startup_seconds_bucket{le=1.5}") == 1
    assert delta("talentreel_player_startup_seconds_bucket{le=1.0}") == 0
    assert delta("talentreel_playback_sessions_total{outcome=started}") == 1
    assert delta("talentreel_playback_sessions_total{outcome=failed}") == 0
    assert delta("talentreel_playback_errors_total{code=network}") == 1
    for reason, count in (("not_json", 2), ("event", 1), ("code", 2), ("startup_seconds", 2), ("token", 1),
                          ("too_large", 1), ("duplicate", 1)):
        assert delta(f"talentreel_playback_beacons_rejected_total{{reason={reason}}}") == count, reason


def test_a_session_that_never_played_counts_as_failed(ready, client, login):
    hr, recording = ready
    login(hr)
    token = token_of(client, recording)
    before = scrape(client).get("talentreel_playback_sessions_total{outcome=failed}", 0)
    response = client.post("/-/beacon/playback", data=json.dumps({"event": "failed", "code": 4, "token": token}),
                           content_type="application/json")
    assert response.status_code == 204
    assert scrape(client)["talentreel_playback_sessions_total{outcome=failed}"] == before + 1


def test_beacon_after_access_was_withdrawn_is_refused(ready, client, login, db):
    hr, recording = ready
    login(hr)
    token = token_of(client, recording)
    with db.connection_context():
        m.User.update(is_active=False).where(m.User.id == hr.id).execute()
    response = client.post("/-/beacon/playback", data=json.dumps({"event": "started", "startup_seconds": 1, "token": token}),
                           content_type="application/json")
    assert response.status_code == 400 and "access" in response.get_json()["error"]
