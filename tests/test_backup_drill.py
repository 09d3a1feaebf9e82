"""The backup drill: back up an instance holding the fixture interview (processed, with a report),
wipe it, restore into a fresh instance (new data directory, new database) and check that every
replay plays the original bytes and every report is identical; then the ways it must fail:
a corrupted byte (verify names the file), a non-empty instance, an unreachable or full target."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from conftest import FIXTURES, PASSWORD, TEST_DATABASE, _empty_postgres, _pg_admin, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.backups import BackupError, RestoreRefused, TargetFull, TargetUnavailable, backupkey, retention, verify
from talentreel.server.backups.create import run_backup
from talentreel.server.backups.target import BackupTarget
from talentreel.server.encryption.keyring import Keyring
from talentreel.server.recordings import OUTPUT_NAMES, ingest_file, object_key
from talentreel.workers import base as worker_base
from talentreel.workers.analysis import analyze_recording
from talentreel.workers.media import make_pictures, process_recording

INTERVIEW = FIXTURES / "interview_en"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="module", autouse=True)
def pg_dump_installed():
    """pg_dump and pg_restore back up PostgreSQL: installed from Debian's packages when missing and
    the tests run as root (a fresh CI machine, as .ci/run does); otherwise a clear failure."""
    if TEST_DATABASE != "postgres" or shutil.which("pg_dump"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql-client"], env=env, check=False, capture_output=True)
    if not shutil.which("pg_dump"):
        pytest.fail("pg_dump is missing: install Debian's postgresql-client (apt-get install postgresql-client)")


@pytest.fixture
def offsite(tmp_path):
    path = tmp_path / "offsite"
    path.mkdir()
    return path


@pytest.fixture
def settings(settings, offsite):
    # Speech-to-text and vision are the slow analyzers and add nothing to what a backup must keep.
    settings.update(backup_path=str(offsite), disabled_plugins=["analyzer_stt_pocketsphinx", "analyzer_stt_vosk", "analyzer_vision"])
    return settings


@pytest.fixture
def state(app):
    worker_base.set_app(app)
    return app.extensions["talentreel"]


@pytest.fixture
def interview(state, db, make_user):
    """The fixture interview ingested, processed and analysed: a ready recording with a report."""
    hr = make_user("hr_drill", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Drill candidate", email="drill@example.com")
    interview = m.Interview.create(candidate=candidate, questions=["Tell me about yourself."])
    recording = ingest_file(state, INTERVIEW / "interview.mp4", candidate=candidate, interview=interview,
                            original_name="interview.mp4", actor=hr)
    process_recording(recording.id)
    make_pictures(recording.id)
    analyze_recording(recording.id)
    recording = m.Recording.get_by_id(recording.id)
    assert recording.state == "ready", recording.error
    assert m.Report.select().where(m.Report.recording == recording).count() == 1
    return recording


def _new_database_url(tmp_path) -> tuple[str, callable]:
    """A fresh, empty database for the instance restored into, and how to drop it afterwards."""
    if TEST_DATABASE != "postgres":
        return f"sqlite:///{tmp_path / 'restored' / 'talentreel.db'}", lambda: None
    from conftest import POSTGRES_SERVER

    name = f"talentreel_restore_{uuid.uuid4().hex[:10]}"
    conn = _pg_admin()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()

    return f"{POSTGRES_SERVER}/{name}", drop


def _cli(*args, env_extra=None) -> subprocess.CompletedProcess:
    """The real command, in its own process, with no TALENTREEL_* from the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALENTREEL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "talentreel.server.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT.parent, timeout=300)


def _wipe(app, settings):
    """Lose the machine: the data directory (keys included) and the database's content."""
    db = app.extensions["talentreel"].database
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()
    shutil.rmtree(settings["data_dir"])
    if TEST_DATABASE == "postgres":
        _empty_postgres(settings["database_url"])


def _snapshot(state, recording) -> dict:
    """What must come back: each stored output's plaintext, and every report as stored."""
    outputs = {}
    for name in OUTPUT_NAMES:
        key = object_key(recording.id, name)
        if state.storage.exists(key):
            with state.store.open(key) as fh:
                outputs[name] = fh.read()
    reports = [(r.recording_id, r.version, r.schema_version, json.dumps(r.data, sort_keys=True), json.dumps(r.analyzers, sort_keys=True))
               for r in m.Report.select().order_by(m.Report.id)]
    return {"outputs": outputs, "reports": reports}


def _flip_byte(path: Path, offset: int | None = None) -> None:
    raw = bytearray(path.read_bytes())
    where = len(raw) // 2 if offset is None else offset
    raw[where] ^= 0x01
    path.write_bytes(bytes(raw))


# --- the drill ----------------------------------------------------------------------------------


def test_drill_backup_wipe_restore_replay_and_reports(app, state, settings, interview, offsite, tmp_path):
    before = _snapshot(state, interview)
    assert before["outputs"]["video.mp4"][4:8] == b"ftyp" and before["reports"]

    run = run_backup(state, triggered_by="test")
    assert run.status == "succeeded" and run.error is None
    stored = m.DataKey.select().where(m.DataKey.stored_at.is_null(False)).count()
    assert run.objects == stored and run.objects_copied == stored
    # Stored objects are copied as the ciphertext they are at rest, never decrypted.
    for row in m.DataKey.select().where(m.DataKey.stored_at.is_null(False)):
        with state.storage.open(row.object_key) as fh:
            assert (offsite / "objects" / row.object_id).read_bytes() == fh.read()
    assert b"SQLite format" not in (offsite / "backups" / run.backup_id / "database.enc").read_bytes()[:100]

    checked = _cli("--data", settings["data_dir"], "backup", "verify", run.backup_id, "--json",
                   env_extra={"TALENTREEL_DATABASE_URL": settings["database_url"], "TALENTREEL_BACKUP_PATH": str(offsite)})
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True

    # The admin keeps the backup key away from the machine; then the machine is lost.
    safe = tmp_path / "safe"
    safe.mkdir()
    shutil.copy(Path(settings["data_dir"], "keys", "backup.key"), safe / "backup.key")
    _wipe(app, settings)

    new_data = tmp_path / "restored"
    new_url, drop = _new_database_url(tmp_path)
    try:
        restored = _cli("restore", run.backup_id, "--into", str(new_data), "--database-url", new_url, "--from", str(offsite),
                        "--backup-key-file", str(safe / "backup.key"), "--json")
        assert restored.returncode == 0, restored.stderr
        result = json.loads(restored.stdout)
        assert result["objects"] == stored and result["keys_installed"] == [1]

        from talentreel.server import create_app

        new_app = create_app({"data_dir": str(new_data), "database_url": new_url, "log_level": "WARNING"})
        new_state = new_app.extensions["talentreel"]
        try:
            with new_state.database.connection_context():
                recording = m.Recording.get_by_id(interview.id)
                ready = [r.id for r in m.Recording.select().where(m.Recording.state == "ready")]
                after = _snapshot(new_state, recording)
                assert after["reports"] == before["reports"]  # every report identical
                assert after["outputs"].keys() == before["outputs"].keys()
                assert m.BackupRun.get(m.BackupRun.backup_id == run.backup_id).status == "failed"  # caught mid-run
                assert m.AuditEvent.select().where(m.AuditEvent.action == "backup.restore").count() == 1

            # Every replay plays: the restored user signs in, Range requests give the original bytes.
            client = new_app.test_client()
            page = client.get("/login")
            response = client.post("/login", data={"username": "hr_drill", "password": PASSWORD,
                                                   "csrf_token": csrf_token_from(page.get_data(as_text=True))})
            assert response.status_code == 302
            assert ready == [interview.id]
            for rec_id in ready:
                html = client.get(f"/recordings/{rec_id}").get_data(as_text=True)
                token = re.search(r'src="/media/([^/"]+)/video.mp4"', html).group(1)
                original = before["outputs"]["video.mp4"]
                total = len(original)
                for start, end in [(0, 99), (65530, 65545), (total // 2, total // 2 + 200000), (total - 10, total - 1)]:
                    end = min(end, total - 1)
                    ranged = client.get(f"/media/{token}/video.mp4", headers={"Range": f"bytes={start}-{end}"})
                    assert ranged.status_code == 206
                    assert ranged.headers["Content-Range"] == f"bytes {start}-{end}/{total}"
                    assert ranged.get_data() == original[start:end + 1]
        finally:
            db = new_state.database
            if hasattr(db, "close_all"):
                db.close_all()
    finally:
        drop()


def test_one_corrupted_byte_is_found_by_verify_naming_the_file(app, state, settings, interview, offsite, tmp_path):
    run = run_backup(state)
    target = BackupTarget.from_settings(state.settings, state.plugins)
    keyring = Keyring.from_settings(state.settings)
    key = backupkey.load(state.settings)
    (clean,) = verify.verify(target, keyring=keyring, backup_key=key)
    assert clean.ok and clean.files == run.objects + 2

    video_id = m.DataKey.get(m.DataKey.object_key == object_key(interview.id, "video.mp4")).object_id
    backup_dir = offsite / "backups" / run.backup_id
    for damaged, name in [(offsite / "objects" / video_id, f"objects/{video_id}"),
                          (backup_dir / "database.enc", f"backups/{run.backup_id}/database.enc"),
                          (backup_dir / "keyring.enc", f"backups/{run.backup_id}/keyring.enc"),
                          (backup_dir / "manifest.json", f"backups/{run.backup_id}/manifest.json")]:
        good = damaged.read_bytes()
        _flip_byte(damaged)
        (result,) = verify.verify(target, keyring=keyring, backup_key=key)
        assert not result.ok
        assert len(result.problems) == 1 and result.problems[0].startswith(name), result.problems
        if name.startswith("objects/"):
            # The command line says the same, with a failing exit status, and a restore changes nothing.
            out = _cli("--data", settings["data_dir"], "backup", "verify",
                       env_extra={"TALENTREEL_DATABASE_URL": settings["database_url"], "TALENTREEL_BACKUP_PATH": str(offsite)})
            assert out.returncode == 1 and name in out.stdout
            verify.record([result])
            assert m.BackupRun.get(m.BackupRun.backup_id == run.backup_id).verify_ok is False
            from talentreel.server.backups.restore import restore
            from talentreel.server.config import load_settings

            fresh = load_settings({"data_dir": str(tmp_path / "fresh"), "database_url": f"sqlite:///{tmp_path / 'fresh' / 'x.db'}"})
            with pytest.raises(BackupError, match=f"damaged; nothing was restored:\n  {name}"):
                restore(fresh, target, run.backup_id, backup_key=key)
            assert not (tmp_path / "fresh" / "x.db").exists() and not (tmp_path / "fresh" / "keys").exists()
        damaged.write_bytes(good)
    (again,) = verify.verify(target, keyring=keyring, backup_key=key)
    assert again.ok


def test_next_backup_copies_again_what_verify_found_damaged(app, state, settings, interview, offsite):
    first = run_backup(state)
    video_id = m.DataKey.get(m.DataKey.object_key == object_key(interview.id, "video.mp4")).object_id
    _flip_byte(offsite / "objects" / video_id)
    target = BackupTarget.from_settings(state.settings, state.plugins)
    results = verify.verify(target, keyring=Keyring.from_settings(state.settings), backup_key=backupkey.load(state.settings))
    verify.record(results)
    assert m.BackupRun.get_by_id(first.id).verify_ok is False
    second = run_backup(state)
    assert second.objects_copied == 1  # only the damaged object; the others are intact offsite
    (result,) = verify.verify(target, [second.backup_id], keyring=Keyring.from_settings(state.settings))
    assert result.ok, result.problems


def test_restore_into_a_non_empty_instance_is_refused_unless_forced(app, state, settings, interview, offsite, tmp_path):
    run = run_backup(state)
    target = BackupTarget.from_settings(state.settings, state.plugins)
    from talentreel.server.backups.restore import restore

    # The instance itself is not empty: refused, naming what it holds, and nothing changes.
    recordings = m.Recording.select().count()
    with pytest.raises(RestoreRefused, match=r"not empty: its database holds \d+ row\(s\).*its storage holds objects"):
        restore(state.settings, target, run.backup_id, backup_key=backupkey.load(state.settings))
    assert m.Recording.select().count() == recordings
    m.Candidate.create(organisation=default_organisation(), name="Added after the backup")
    db = state.database
    if not db.is_closed():
        db.close()
    result = restore(state.settings, target, run.backup_id, backup_key=backupkey.load(state.settings), force=True)
    assert result["objects"] == run.objects
    with db.connection_context():
        assert not m.Candidate.select().where(m.Candidate.name == "Added after the backup").exists()
        assert state.store.verify(object_key(interview.id, "video.mp4")) > 0


def test_second_backup_copies_no_object_again_and_retention_prunes(app, state, settings, interview, offsite):
    first = run_backup(state)
    second = run_backup(state)
    assert second.objects == first.objects and second.objects_copied == 0
    assert second.bytes < first.bytes / 2  # the dump and manifest only
    # Retention keeps the newest backup of the day: the first is pruned, its objects are still named.
    assert second.details["pruned"]["backups"] == [first.backup_id]
    assert not (offsite / "backups" / first.backup_id / "manifest.json").exists()
    assert len(list((offsite / "objects").iterdir())) == first.objects
    # An object nothing references any more is pruned with the next backup.
    state.store.delete(object_key(interview.id, "sprite.jpg"))
    third = run_backup(state)
    assert third.objects == first.objects - 1 and third.details["pruned"]["objects"] == 1


def test_a_run_killed_midway_does_not_block_backups_for_ever(app, state, settings):
    import datetime as dt

    dead = m.BackupRun.create(backup_id="20261101T000000.000000Z-dead", target="directory x", status="running",
                              started_at=m.utcnow() - dt.timedelta(hours=1))
    with pytest.raises(BackupError, match="is still running"):
        run_backup(state)
    m.BackupRun.update(started_at=m.utcnow() - dt.timedelta(hours=13)).where(m.BackupRun.id == dead.id).execute()
    assert run_backup(state).status == "succeeded"
    dead = m.BackupRun.get_by_id(dead.id)
    assert dead.status == "failed" and "interrupted" in dead.error


def test_a_backup_of_a_newer_version_is_refused(app, state, settings, tmp_path):
    from talentreel.server.backups import manifest
    from talentreel.server.backups.restore import restore
    from talentreel.server.config import load_settings

    run = run_backup(state)
    target = BackupTarget.from_settings(state.settings, state.plugins)
    data = manifest.read(target, run.backup_id)
    data["schema_versions"].append(999)
    manifest.write(target, data)  # a genuine manifest of a future version, checksum and all
    fresh = load_settings({"data_dir": str(tmp_path / "fresh"), "database_url": f"sqlite:///{tmp_path / 'fresh' / 'x.db'}"})
    with pytest.raises(RestoreRefused, match="comes from a newer TalentReel .schema migration 999"):
        restore(fresh, target, run.backup_id, backup_key=backupkey.load(state.settings))
    assert not (tmp_path / "fresh" / "x.db").exists()


def test_retention_keeps_newest_per_day_and_per_week():
    ids = [f"202611{d:02d}T{h:02d}0000.000000Z-abcd" for d in range(1, 27) for h in (1, 13)]
    keep = retention.to_keep(ids, keep_daily=3, keep_weekly=2)
    daily = {"20261126T130000.000000Z-abcd", "20261125T130000.000000Z-abcd", "20261124T130000.000000Z-abcd"}
    weekly = {"20261126T130000.000000Z-abcd", "20261122T130000.000000Z-abcd"}  # Sunday 22nd ends ISO week 47
    assert keep == daily | weekly


def test_unreachable_target_fails_the_run_with_its_reason(app, state, settings, tmp_path):
    missing = tmp_path / "not-mounted"
    state.settings = dict(state.settings, backup_path=str(missing))
    with pytest.raises(TargetUnavailable, match="does not exist"):
        run_backup(state)
    failed = m.BackupRun.select().order_by(m.BackupRun.id.desc()).first()
    assert failed.status == "failed" and "not-mounted" in failed.error and "does not exist" in failed.error
    assert not missing.exists()  # never created: it may be an unmounted disk's mount point

    state.settings = dict(state.settings, backup_backend="s3", backup_s3_bucket="offsite",
                          s3_endpoint_url="http://127.0.0.1:9", s3_access_key="testing", s3_secret_key="testing")
    with pytest.raises(TargetUnavailable, match="unreachable"):
        run_backup(state)
    assert m.BackupRun.select().where(m.BackupRun.status == "succeeded").count() == 0


def test_full_target_fails_cleanly(app, state, settings, interview, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(small)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small filesystem for the full-disk case needs mount(8) as root: {mounted.stderr.strip()}")
    try:
        state.settings = dict(state.settings, backup_path=str(small))
        with pytest.raises(TargetFull, match="is full"):
            run_backup(state)
        failed = m.BackupRun.select().order_by(m.BackupRun.id.desc()).first()
        assert failed.status == "failed" and "is full" in failed.error
        assert not list(small.rglob("manifest.json"))  # nothing claims to be a backup
        assert not [p for p in small.rglob("*") if p.name.startswith(".part-")]  # no half-written file left
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_backup_to_an_s3_bucket_and_restore_from_it(app, state, settings, interview, s3_endpoint, s3_bucket, tmp_path):
    state.settings = dict(state.settings, backup_backend="s3", backup_s3_bucket=s3_bucket, backup_s3_prefix="offsite",
                          s3_endpoint_url=s3_endpoint, s3_access_key="testing", s3_secret_key="testing", s3_region="us-east-1")
    run = run_backup(state)
    assert run.status == "succeeded" and run.objects_copied == run.objects > 0
    target = BackupTarget.from_settings(state.settings, state.plugins)
    assert target.backup_ids() == [run.backup_id]
    (result,) = verify.verify(target, keyring=Keyring.from_settings(state.settings), backup_key=backupkey.load(state.settings))
    assert result.ok and result.files == run.objects + 2

    # Restored from the bucket into a fresh instance, every object reads back to its plaintext.
    from talentreel.server.backups.restore import instance_storage, restore
    from talentreel.server.config import load_settings

    with state.store.open(object_key(interview.id, "video.mp4")) as fh:
        video = fh.read()
    new_url, drop = _new_database_url(tmp_path)
    try:
        fresh = load_settings({"data_dir": str(tmp_path / "restored"), "database_url": new_url})
        result = restore(fresh, target, "latest", backup_key=backupkey.load(state.settings))
        assert result["objects"] == run.objects and result["keys_installed"] == [1]
        storage = instance_storage(fresh)
        assert sorted(storage.keys("")) == sorted(k for k in state.storage.keys(""))
        from talentreel.server import create_app

        new_app = create_app({"data_dir": str(tmp_path / "restored"), "database_url": new_url, "log_level": "WARNING"})
        new_state = new_app.extensions["talentreel"]
        try:
            with new_state.database.connection_context(), new_state.store.open(object_key(interview.id, "video.mp4")) as fh:
                assert fh.read() == video
        finally:
            if hasattr(new_state.database, "close_all"):
                new_state.database.close_all()
    finally:
        drop()


def test_command_line_errors_are_one_clear_line(app, state, settings, tmp_path):
    env = {"TALENTREEL_DATABASE_URL": settings["database_url"], "TALENTREEL_BACKUP_PATH": str(tmp_path / "unplugged")}
    out = _cli("--data", settings["data_dir"], "backup", env_extra=env)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == f"error: backup target directory {tmp_path / 'unplugged'} does not exist (is the disk mounted?); create it first"
    db = state.database
    db.connect(reuse_if_open=True)
    failed = m.BackupRun.select().order_by(m.BackupRun.id.desc()).first()
    assert failed.status == "failed" and "does not exist" in failed.error

    # A restore into the instance itself (not empty) is refused and names what it holds.
    run = run_backup(state)
    db.close()
    out = _cli("restore", run.backup_id, "--into", settings["data_dir"], "--database-url", settings["database_url"],
               "--from", settings["backup_path"])
    assert out.returncode == 2 and "is not empty: its database holds" in out.stderr and "--force" in out.stderr
    out = _cli("restore", "20990101T000000.000000Z-0000", "--into", str(tmp_path / "new"), "--from", settings["backup_path"])
    assert out.returncode == 2 and f"backup 20990101T000000.000000Z-0000 is not on backup target directory {settings['backup_path']} (newest: {run.backup_id})" in out.stderr


def test_a_backup_taken_before_an_erasure_cannot_decrypt_the_erased_candidate(app, state, settings, interview, offsite, tmp_path):
    """Candidate keys never go into a dump; they live in the target's key escrow, which the erasure
    rewrites. Restoring a backup taken before the erasure brings the erased candidate's rows back,
    but not their key: their media stays unreadable, everyone else's plays."""
    from talentreel.server.encryption.errors import KeyDestroyed
    from talentreel.server.erasure import erase_candidate

    stays = m.Candidate.create(organisation=default_organisation(), name="Stays")
    kept = ingest_file(state, INTERVIEW / "legacy_h264.flv", candidate=stays, original_name="legacy_h264.flv")
    process_recording(kept.id)
    with state.store.open(object_key(kept.id, "video.mp4")) as fh:
        kept_video = fh.read()
    run = run_backup(state, triggered_by="test")
    assert run.status == "succeeded", run.error
    data = json.loads((offsite / "backups" / run.backup_id / "manifest.json").read_text())
    assert data["escrow"]["candidate_keys"] == 2
    erased_id = interview.candidate_id
    with app.test_request_context():
        erase_candidate(m.Candidate.get_by_id(erased_id), None)

    safe = tmp_path / "safe"
    safe.mkdir()
    shutil.copy(Path(settings["data_dir"], "keys", "backup.key"), safe / "backup.key")
    _wipe(app, settings)
    new_data = tmp_path / "restored"
    new_url, drop = _new_database_url(tmp_path)
    try:
        restored = _cli("restore", run.backup_id, "--into", str(new_data), "--database-url", new_url, "--from", str(offsite),
                        "--backup-key-file", str(safe / "backup.key"), "--json")
        assert restored.returncode == 0, restored.stderr
        result = json.loads(restored.stdout)
        assert (result["candidate_keys_restored"], result["candidate_keys_gone"]) == (1, 1)
        from talentreel.server import create_app

        new_app = create_app({"data_dir": str(new_data), "database_url": new_url, "log_level": "WARNING"})
        new_state = new_app.extensions["talentreel"]
        try:
            with new_app.app_context(), new_state.database.connection_context():
                assert m.Candidate.get_by_id(erased_id).name == "Drill candidate"  # the old dump's rows came back...
                with pytest.raises(KeyDestroyed):  # ...but not the key to their recordings
                    new_state.store.open(object_key(interview.id, "video.mp4")).read()
                with new_state.store.open(object_key(kept.id, "video.mp4")) as fh:
                    assert fh.read() == kept_video
        finally:
            db = new_state.database
            if hasattr(db, "close_all"):
                db.close_all()
    finally:
        drop()
