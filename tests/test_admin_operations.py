"""The console's operations pages: backups (runs, age, verify, back up now), storage tiers and
usage, key rotation (versions, a rotation job and its progress), plugins with their settings and
the organisation's analysis settings form (validated, nothing half-applied)."""

from __future__ import annotations

import io

import pytest

from conftest import csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.workers import base as worker_base

PAGES = ["/admin/admin_backups/", "/admin/admin_storage/", "/admin/admin_keys/"]


@pytest.fixture
def settings(settings, tmp_path):
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    settings.update(backup_path=str(offsite), disabled_plugins=["analyzer_vision"])
    return settings


@pytest.fixture
def ops(client, make_user, login, app):
    worker_base.set_app(app)  # jobs run in this process, as a worker's would
    login(make_user("ops", roles=("it_admin",)))
    return client


def _token(client, page) -> str:
    return csrf_token_from(client.get(page).get_data(as_text=True))


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_for_it_admins_only(client, make_user, login, page):
    login(make_user("hr_only", roles=("hr",)))
    assert client.get(page).status_code == 403


def test_backups_page_runs_verify_and_age(ops, app):
    html = ops.get("/admin/admin_backups/").get_data(as_text=True)
    assert "There is no successful backup yet." in html and "Back up now" in html

    token = _token(ops, "/admin/admin_backups/")
    assert ops.post("/admin/admin_backups/run", data={"csrf_token": token}).status_code == 302
    queued = m.WorkItem.get(m.WorkItem.func == "talentreel.workers.maintenance.run_backup")
    assert queued.args == ["admin:ops"] and queued.state == "pending"
    again = ops.post("/admin/admin_backups/run", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "already queued or running" in again
    assert m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.maintenance.run_backup").count() == 1

    from talentreel.workers.maintenance import run_backup, verify_backup

    result = run_backup(*queued.args)
    run = m.BackupRun.get(m.BackupRun.backup_id == result["backup_id"])
    assert run.status == "succeeded" and run.triggered_by == "admin:ops"
    html = ops.get("/admin/admin_backups/").get_data(as_text=True)
    assert f"Newest restorable backup: {run.backup_id}" in html and "0 min old" in html
    from talentreel.server.backups import backupkey

    assert f"Backup key: fingerprint {backupkey.load(app.extensions['talentreel'].settings).fingerprint}" in html
    assert any("keep a copy away from this machine" in w for w in run.details["warnings"])  # told once, when created

    response = ops.post("/admin/admin_backups/action/", data={"action": "verify", "rowid": [str(run.id)], "csrf_token": token})
    assert response.status_code == 302
    job = m.WorkItem.get(m.WorkItem.func == "talentreel.workers.maintenance.verify_backup")
    assert job.args == [run.backup_id]
    assert verify_backup(*job.args) == {"verified": [run.backup_id]}
    assert "intact" in ops.get("/admin/admin_backups/").get_data(as_text=True)


def test_backup_now_without_a_target_queues_nothing(ops, app):
    state = app.extensions["talentreel"]
    state.settings = dict(state.settings, backup_path="")
    html = ops.post("/admin/admin_backups/run", data={"csrf_token": _token(ops, "/admin/admin_backups/")},
                    follow_redirects=True).get_data(as_text=True)
    assert "No backup target is configured" in html
    assert not m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.maintenance.run_backup").exists()


def test_storage_page_counts_objects_and_bytes_per_tier(ops, app):
    store = app.extensions["talentreel"].store
    candidate = m.Candidate.create(organisation=default_organisation(), name="Tiered")
    hot = m.Recording.create(candidate=candidate, state="ready")
    cold = m.Recording.create(candidate=candidate, state="ready", tier="cold")
    sizes = {}
    for rec, name, size in [(hot, "video.mp4", 1000), (hot, "poster.jpg", 10), (cold, "video.mp4", 5000)]:
        stored = store.put(f"recordings/{rec.id}/{name}", io.BytesIO(b"x" * size), candidate_id=candidate.id)
        sizes.setdefault(rec.tier, []).append(stored.ciphertext_size)
    html = ops.get("/admin/admin_storage/").get_data(as_text=True)
    assert '<td class="objects-hot">2</td>' in html and '<td class="objects-cold">1</td>' in html
    assert f'<td class="bytes-hot">{sum(sizes["hot"])} ' in html and f'<td class="bytes-cold">{sum(sizes["cold"])} ' in html


def test_key_rotation_page_validates_queues_and_shows_progress(ops, app):
    store = app.extensions["talentreel"].store
    candidate = m.Candidate.create(organisation=default_organisation(), name="Keyed")
    store.put("recordings/1/poster.jpg", io.BytesIO(b"poster"), candidate_id=candidate.id)
    html = ops.get("/admin/admin_keys/").get_data(as_text=True)
    assert "1 (newest)" in html and "No rotation yet." in html

    token = _token(ops, "/admin/admin_keys/")
    bad = ops.post("/admin/admin_keys/rotate", data={"csrf_token": token, "new_kek": "maybe"}, follow_redirects=True)
    assert "Invalid choice for a new key version" in bad.get_data(as_text=True)
    assert not m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.maintenance.rotate_keys").exists()

    assert ops.post("/admin/admin_keys/rotate", data={"csrf_token": token, "new_kek": "yes"}).status_code == 302
    job = m.WorkItem.get(m.WorkItem.func == "talentreel.workers.maintenance.rotate_keys")
    assert job.args == [True]
    from talentreel.workers.maintenance import rotate_keys

    m.WorkItem.update(state="done", result=rotate_keys(*job.args)).where(m.WorkItem.id == job.id).execute()
    html = ops.get("/admin/admin_keys/").get_data(as_text=True)
    assert "2 (newest)" in html and "1 key(s) re-wrapped under version 2" in html
    with store.open("recordings/1/poster.jpg") as fh:
        assert fh.read() == b"poster"  # still readable after the rotation


def test_plugins_page_shows_settings_and_disabled_plugins(ops, app):
    html = ops.get("/admin/admin_plugins/").get_data(as_text=True)
    storage_path = app.extensions["talentreel"].settings["storage_path"]
    assert f"<code>storage_path</code> = {storage_path}" in html
    assert "<code>s3_secret_key</code> = (not set)" in html  # secrets never shown
    assert "analyzer_vision</td><td>disabled" in html
    assert "<code>voice.hesitation_min_seconds</code> = 2.0" in html


def test_analysis_settings_form_is_validated_and_never_half_applied(ops, app):
    token = _token(ops, "/admin/admin_plugins/")
    good = {"switch.ai": "on", "switch.vision_voice": "off", "threshold.voice.hesitation_min_seconds": "3.5",
            "threshold.voice.before_answer_min_seconds": "2", "threshold.voice.pause_min_seconds": "0.3",
            "threshold.questions.min_match": "0.6"}
    for field, value, message in [("threshold.questions.min_match", "1.5", "questions.min_match: expected a number from 0.0 to 1.0"),
                                  ("threshold.voice.pause_min_seconds", "nan", "voice.pause_min_seconds: expected a number"),
                                  ("switch.ai", "maybe", "ai: expected on or off")]:
        response = ops.post("/admin/admin_plugins/analysis", data={**good, field: value, "csrf_token": token}, follow_redirects=True)
        assert "Nothing was saved" in response.get_data(as_text=True) and message in response.get_data(as_text=True)
        assert default_organisation().settings in ({}, None)  # the valid fields were not saved either
    response = ops.post("/admin/admin_plugins/analysis", data={**good, "csrf_token": token}, follow_redirects=True)
    assert "Analysis settings saved." in response.get_data(as_text=True)
    saved = m.Organisation.get_by_id(default_organisation().id).settings
    assert saved["analysis"] == {"ai": True, "vision_voice": False}
    assert saved["thresholds"]["voice.hesitation_min_seconds"] == 3.5 and saved["thresholds"]["questions.min_match"] == 0.6
    assert m.AuditEvent.select().where(m.AuditEvent.action == "organisation.analysis_settings").count() == 1
