"""`talentreel backup`: one backup of the database and the stored objects to the backup target.

Order matters for "nothing claimed as done": the dump and the new objects are written first, the
manifest last, and only then is the BackupRun marked succeeded. A run that fails anywhere is
marked failed with the reason; what it wrote without a manifest is removed by the next pruning.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

from .. import models as m
from ..encryption import format as fmt
from ..encryption.keyring import Keyring
from ..encryption.streams import EncryptingReader
from . import backupkey, dump, escrow, manifest, retention
from .errors import BackupError
from .hashing import HashingReader, file_digest
from .target import DATABASE_NAME, KEYRING_NAME, OBJECTS_PREFIX, BackupTarget, backup_file, object_blob

log = logging.getLogger("talentreel.backups")

STALE_RUN = dt.timedelta(hours=12)
"""A run still 'running' after this long died without saying so (killed machine): not a reason to wait."""

VERIFY_MEMORY = dt.timedelta(days=90)
"""How far back verification results are read for objects to copy again."""

Progress = Callable[[float, str], None]


def new_backup_id(now: dt.datetime) -> str:
    """Sortable by time to the microsecond (two runs in one second keep their order), unique:
    20261126T042153.123456Z-3fa2."""
    return now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(2)


def run_backup(state, *, triggered_by: str = "cli", progress: Progress | None = None) -> m.BackupRun:
    """Back up the instance whose TalentReel state is given; return the succeeded BackupRun.
    Raises BackupError (TargetUnavailable, TargetFull, ...) after recording the run as failed."""
    settings = state.settings
    progress = progress or (lambda fraction, message: None)
    now = m.utcnow()
    # A run the machine or worker died in never says so: past STALE_RUN it is recorded as failed.
    m.BackupRun.update(status="failed", finished_at=now, error=f"interrupted: still running after {STALE_RUN} (process killed?)") \
        .where(m.BackupRun.status == "running", m.BackupRun.started_at <= now - STALE_RUN).execute()
    busy = m.BackupRun.select().where(m.BackupRun.status == "running", m.BackupRun.started_at > now - STALE_RUN).first()
    if busy is not None:
        raise BackupError(f"backup {busy.backup_id} is still running (started {busy.started_at:%Y-%m-%d %H:%M} UTC); "
                          "wait for it to finish")
    from .target import describe_target

    run = m.BackupRun.create(backup_id=new_backup_id(now), target=describe_target(settings), triggered_by=triggered_by, started_at=now,
                             database_engine=dump.engine_of(settings["database_url"]))
    try:
        data = _back_up(state, run, progress)
    except Exception as exc:
        reason = str(exc) if str(exc) else type(exc).__name__
        m.BackupRun.update(status="failed", error=reason, finished_at=m.utcnow()).where(m.BackupRun.id == run.id).execute()
        log.error("backup %s failed: %s", run.backup_id, reason)
        raise
    details = {"warnings": data["notes"] + data["warnings"]}
    try:
        target = BackupTarget.from_settings(settings, state.plugins)
        details["pruned"] = retention.apply(target, settings["backup_keep_daily"], settings["backup_keep_weekly"], protect={run.backup_id})
    except BackupError as exc:  # the backup itself is complete; a failed pruning is retried next time
        details["warnings"].append(f"retention not applied: {exc}")
    m.BackupRun.update(status="succeeded", finished_at=m.utcnow(), details=details).where(m.BackupRun.id == run.id).execute()
    return m.BackupRun.get_by_id(run.id)


def _back_up(state, run: m.BackupRun, progress: Progress) -> dict:
    settings = state.settings
    target = BackupTarget.from_settings(settings, state.plugins)
    key = backupkey.load(settings, create=True)
    if key is None:
        backupkey.require(settings)  # raises the message naming both places a backup key can come from
    notes = []
    if key.created:
        notes.append(f"a new backup key was created in {settings['backup_key_file']}: keep a copy away from this machine "
                     "(`talentreel backup key --show`); without it a new machine cannot restore these backups")
    keyring = Keyring.from_settings(settings)
    target.check_writable()
    progress(0.02, "dumping the database")
    work_dir = Path(settings["data_dir"], "run")
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="backup-") as tmp:
        dump_path = Path(tmp, "database.dump")
        objects = dump.dump(settings["database_url"], dump_path)
        written = 0
        database_entry, n = _write_dump(target, run.backup_id, dump_path, keyring, key, run.database_engine)
        skeleton = Path(str(dump_path) + dump.KEY_SKELETON_SUFFIX)
        if skeleton.exists():  # PostgreSQL: the candidate key rows' ids, their keys being in the escrow
            database_entry["candidate_key_rows"] = json.loads(skeleton.read_text())
        written += n
    progress(0.08, "the candidate key escrow")
    escrow_entry = escrow.write(target, key, keyring)
    written += escrow_entry["bytes"]
    progress(0.1, "sealing the keys")
    sealed = key.seal_keyring(keyring, run.backup_id)
    keyring_name = backup_file(run.backup_id, KEYRING_NAME)
    reader = HashingReader(io.BytesIO(sealed))
    target.put(keyring_name, reader)
    written += reader.count
    keyring_entry = {"file": keyring_name, "bytes": reader.count, "sha256": reader.sha256, "backup_key_fingerprint": key.fingerprint,
                     "kek_fingerprints": {str(v): keyring.fingerprint(v) for v in keyring.versions}}

    known = _known_objects(target)
    on_target = {name: None for name in target.names(OBJECTS_PREFIX)}
    suspect = _found_damaged(target, known)
    entries, warnings, copied, total = [], [], 0, database_entry["bytes"] + reader.count
    for index, obj in enumerate(objects):
        blob = object_blob(obj["object_id"])
        entry = {"key": obj["key"], "object_id": obj["object_id"], "blob": blob, "tier": _tier(state.storage, obj["key"])}
        previous = known.get(blob)
        if previous is not None and blob in on_target and previous["bytes"] == obj["bytes"] and blob not in suspect:
            entry.update(bytes=previous["bytes"], sha256=previous["sha256"])  # incremental: already offsite
        else:
            copied_entry = _copy_object(state.storage, target, obj, blob)
            if copied_entry is None:
                warnings.append(f"object {obj['key']} was deleted or replaced after the database snapshot; not in this backup")
                continue
            entry.update(copied_entry)
            written += entry["bytes"]
            copied += 1
        total += entry["bytes"]
        entries.append(entry)
        if index % 20 == 0:
            m.BackupRun.update(bytes=written, objects_copied=copied).where(m.BackupRun.id == run.id).execute()
            progress(0.1 + 0.85 * (index + 1) / len(objects), f"objects {index + 1}/{len(objects)}")

    data = {"format": manifest.FORMAT, "backup_id": run.backup_id, "started_at": run.started_at.isoformat() + "Z",
            "finished_at": m.utcnow().isoformat() + "Z", "database": database_entry, "keyring": keyring_entry,
            "escrow": {"file": escrow_entry["file"], "candidate_keys": escrow_entry["candidate_keys"]},
            "objects": entries, "warnings": warnings,
            "schema_versions": sorted(v.version for v in m.SchemaVersion.select(m.SchemaVersion.version))}
    progress(0.97, "writing the manifest")
    written += manifest.write(target, data)
    m.BackupRun.update(bytes=written, total_bytes=total, objects=len(entries), objects_copied=copied).where(m.BackupRun.id == run.id).execute()
    return dict(data, notes=notes)  # notes concern this instance, not the backup: kept on the run only


def _write_dump(target: BackupTarget, backup_id: str, dump_path: Path, keyring: Keyring, key, engine: str) -> tuple[dict, int]:
    """Encrypt the dump (the at-rest object format under a fresh dump key) onto the target."""
    dump_key = os.urandom(fmt.KEY_SIZE)
    name = backup_file(backup_id, DATABASE_NAME)
    cipher = fmt.ObjectCipher.create(dump_key, fmt.new_object_id(), object_name=name)
    kek_version, kek_wrapped = keyring.wrap(dump_key, backupkey.dump_subject(backup_id))
    with open(dump_path, "rb") as plain:
        reader = HashingReader(EncryptingReader(plain, cipher))
        target.put(name, reader)
    entry = {"file": name, "engine": engine, "bytes": reader.count, "sha256": reader.sha256, "plaintext_bytes": dump_path.stat().st_size,
             "dump_key": {"kek_version": kek_version, "kek_wrapped": kek_wrapped, "backup_key_wrapped": key.wrap_dump_key(dump_key, backup_id)}}
    return entry, reader.count


def _known_objects(target: BackupTarget) -> dict[str, dict]:
    """Objects the existing backups list, with their checksums; damaged manifests are skipped
    (their objects are then copied again rather than trusted)."""
    known = {}
    for backup_id in target.backup_ids():
        try:
            data = manifest.read(target, backup_id)
        except BackupError as exc:
            log.warning("ignoring backup %s when looking for copied objects: %s", backup_id, exc)
            continue
        for obj in data["objects"]:
            known[obj["blob"]] = obj
    return known


def _found_damaged(target: BackupTarget, known: dict[str, dict]) -> set[str]:
    """Objects a recent verification found damaged on the target and that still do not match
    their checksum: copied again from storage, so the next backup heals what verify reported."""
    since = m.utcnow() - VERIFY_MEMORY
    named = set()
    for run in m.BackupRun.select(m.BackupRun.verify_problems).where(m.BackupRun.verify_ok == False, m.BackupRun.verified_at > since):  # noqa: E712
        named |= {p.split(":", 1)[0] for p in run.verify_problems or [] if p.startswith(OBJECTS_PREFIX)}
    damaged = set()
    for blob in named & set(known):
        try:
            with target.open(blob) as fh:
                size, digest = file_digest(fh)
        except BackupError:
            damaged.add(blob)
            continue
        if (size, digest) != (known[blob]["bytes"], known[blob]["sha256"]):
            damaged.add(blob)
    return damaged


def _tier(storage, key: str) -> str:
    try:
        return storage.tier(key) if hasattr(storage, "tier") else "hot"
    except FileNotFoundError:
        return "hot"


def _copy_object(storage, target: BackupTarget, obj: dict, blob: str) -> dict | None:
    """Copy one object's ciphertext as stored; None when storage no longer holds the object the
    snapshot names (deleted, or replaced by an object with another id)."""
    try:
        source = storage.open(obj["key"])
    except FileNotFoundError:
        return None
    with source:
        head = fmt.read_exactly(source, fmt.HEADER_SIZE)
        try:
            header = fmt.parse_header(head, obj["key"])
        except Exception:
            header = None
        if header is None or header.object_id.hex() != obj["object_id"]:
            return None
        source.seek(0)
        reader = HashingReader(source)
        target.put(blob, reader)
    return {"bytes": reader.count, "sha256": reader.sha256}


