"""Jobs of the `maintenance` queue: housekeeping that keeps the database small."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from talentreel.server import models as m
from talentreel.server.auth import ratelimit

from .base import get_app, job, settings

SESSION_KEEP_DAYS = 30
"""Ended sessions are kept this long for the access review, then deleted."""


@job
def prune_sessions() -> dict:
    """Delete sessions that ended (expired or revoked) more than SESSION_KEEP_DAYS ago and sign-in
    attempts older than the rate-limit window; return what was deleted."""
    cutoff = m.utcnow() - dt.timedelta(days=SESSION_KEEP_DAYS)
    sessions = m.WebSession.delete().where(
        (m.WebSession.expires_at < cutoff) | (m.WebSession.revoked_at.is_null(False) & (m.WebSession.revoked_at < cutoff))
    ).execute()
    attempts = ratelimit.prune(settings())
    return {"sessions": sessions, "login_attempts": attempts}


@job
def prune_pool_changes() -> dict:
    """Trim the log of candidate-tag changes the search index follows (server/pool/changes.py)."""
    from talentreel.server.pool import changes

    return {"deleted": changes.prune(m.CandidateTag._meta.database)}


@job
def finish_interrupted_puts() -> dict:
    """Remove the keys of object writes a crash interrupted (see EncryptedStore)."""
    return get_app().extensions["talentreel"].store.finish_interrupted_puts()


@job
def remove_abandoned_uploads() -> dict:
    """Delete uploads nobody finished within the expiry time, and orphan part files."""
    from talentreel.server.ingest import remove_abandoned_uploads as remove

    return remove(settings()["data_dir"])


def _recording_keys(state, recording_id: int) -> list[str]:
    return list(state.storage.keys(f"recordings/{recording_id}/"))


@job
def move_cold_recordings() -> dict:
    """Move recordings unplayed for `cold_after_days` to the cold tier (see docs/storage.md)."""
    state = get_app().extensions["talentreel"]
    days = state.settings["cold_after_days"]
    if days <= 0:
        return {"moved": 0}
    cutoff = m.utcnow() - dt.timedelta(days=days)
    last_seen = pw.fn.COALESCE(m.Recording.last_played_at, m.Recording.created_at)
    moved = 0
    for recording in list(m.Recording.select().where((m.Recording.state == "ready") & (m.Recording.tier == "hot") & (last_seen < cutoff))):
        for key in _recording_keys(state, recording.id):
            state.storage.set_tier(key, "cold")
        m.Recording.update(tier="cold").where(m.Recording.id == recording.id).execute()
        moved += 1
    return {"moved": moved}


@job
def bring_back_recording(recording_id: int) -> dict:
    """Move a cold recording back to hot storage (queued when someone plays it)."""
    state = get_app().extensions["talentreel"]
    recording = m.Recording.get_or_none(m.Recording.id == recording_id)
    if recording is None or recording.tier == "hot":
        return {"moved": False}
    for key in _recording_keys(state, recording_id):
        state.storage.set_tier(key, "hot")
    m.Recording.update(tier="hot").where(m.Recording.id == recording_id).execute()
    return {"moved": True}


@job
def run_backup(triggered_by: str = "schedule") -> dict:
    """Back up to the backup target (docs/backup.md); skipped while no target is configured."""
    from talentreel.server.backups.create import run_backup as back_up

    from .base import report_progress

    state = get_app().extensions["talentreel"]
    if state.settings["backup_backend"] == "local" and not state.settings["backup_path"]:
        return {"skipped": "no backup target configured (backup_path)"}
    run = back_up(state, triggered_by=triggered_by, progress=report_progress)
    return {"backup_id": run.backup_id, "objects": run.objects, "objects_copied": run.objects_copied, "bytes": run.bytes}


@job
def verify_backup(backup_id: str | None = None) -> dict:
    """Read one backup (or all) back from the target and check every checksum; the result is kept
    on each backup's BackupRun. A damaged backup fails the job, naming the files."""
    from talentreel.server.backups import backupkey, verify
    from talentreel.server.backups.target import BackupTarget
    from talentreel.server.encryption.keyring import Keyring

    state = get_app().extensions["talentreel"]
    target = BackupTarget.from_settings(state.settings, state.plugins)
    results = verify.verify(target, [backup_id] if backup_id else None, keyring=Keyring.from_settings(state.settings),
                            backup_key=backupkey.load(state.settings))
    verify.record(results)
    problems = [p for r in results for p in r.problems]
    if problems:
        raise RuntimeError("backup verification found problems:\n" + "\n".join(problems))
    return {"verified": [r.backup_id for r in results]}


@job
def rotate_keys(new_kek: bool = False) -> dict:
    """Re-wrap every key under the newest key-encryption key (first making a new version when
    asked, embedded mode); progress is published as keys are re-wrapped."""
    from talentreel.server.encryption.keyring import Keyring
    from talentreel.server.encryption.rotation import rotate

    from .base import report_progress

    state = get_app().extensions["talentreel"]
    keyring = Keyring.from_settings(state.settings)
    if new_kek:
        keyring.add_version()
    total = max(1, m.CandidateKey.select().where(m.CandidateKey.kek_version.is_null(False)).count()
                + m.DataKey.select().where(m.DataKey.kek_version.is_null(False)).count())
    result = rotate(keyring, progress=lambda r: report_progress((r.candidate_keys + r.data_keys) / total,
                                                                 f"{r.candidate_keys + r.data_keys} key(s) re-wrapped"))
    return result.as_dict()


@job
def retention_sweep() -> dict:
    """Erase the candidates whose organisation's retention rule says their time is up."""
    from talentreel.server import retention

    return retention.sweep()


@job
def access_review_snapshot() -> dict:
    """Keep this quarter's access review of every organisation."""
    from talentreel.server import access_review

    return {"access_reviews": access_review.snapshot()}
