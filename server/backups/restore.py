"""`talentreel restore`: a backup into an empty instance (a new machine, a new data directory, a
new database).

What it needs: the backup target, and either the backup key (a new machine: the key-encryption
keys come out of the backup's sealed keyring and are written to DATA_DIR/keys) or the instance's
own key-encryption keys (TALENTREEL_KEK_* or DATA_DIR/keys already in place). Steps, each only
after the previous one succeeded:

1. verify the whole backup (every checksum, the dump decrypts): a damaged backup changes nothing;
2. refuse an instance holding data (database rows or stored objects) unless forced;
3. install the key-encryption keys, never overwriting a different key of the same version;
4. load the database dump, then copy every object back into the instance's storage, as ciphertext;
5. bring the schema up to date, and mark runs the backup caught mid-way as failed.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .. import models as m
from .. import schema
from ..db import database as database_proxy, open_database
from ..encryption import format as fmt
from ..encryption.keyring import KEY_DIRNAME, Keyring
from ..encryption.streams import DecryptingReader
from ..errors import ConfigError
from ..plugins import make_plugin_manager, merged_by_name
from . import dump, escrow, manifest, verify
from .backupkey import BackupKey
from .errors import BackupError, BackupNotFound, RestoreRefused
from .target import BackupTarget

Progress = Callable[[float, str], None]


def instance_storage(settings, plugins=None):
    plugins = plugins or make_plugin_manager(settings)
    backends = merged_by_name(plugins, "talentreel_storage_backends")
    name = settings["storage_backend"]
    if name not in backends:
        raise ConfigError(f"setting 'storage_backend': no plugin offers '{name}'")
    return backends[name]["factory"](settings)


def resolve_id(target: BackupTarget, backup_id: str) -> str:
    ids = target.backup_ids()
    if backup_id == "latest":
        if not ids:
            raise BackupNotFound(f"backup target {target.where} holds no backup")
        return ids[-1]
    if backup_id not in ids:
        raise BackupNotFound(f"backup {backup_id} is not on backup target {target.where}"
                             + (f" (newest: {ids[-1]})" if ids else " (it holds no backup)"))
    return backup_id


def what_is_there(settings, storage) -> list[str]:
    """Why the instance is not empty, in words; [] when it is."""
    reasons = []
    rows = {t: n for t, n in dump.holdings(settings["database_url"]).items() if n and t != "schema_version"}
    if rows:
        listed = ", ".join(f"{t}: {n}" for t, n in sorted(rows.items(), key=lambda i: -i[1])[:5])
        reasons.append(f"its database holds {sum(rows.values())} row(s) ({listed})")
    first = next(iter(storage.keys("")), None)
    if first is not None:
        reasons.append(f"its storage holds objects (e.g. {first})")
    return reasons


def restore(settings, target: BackupTarget, backup_id: str, *, backup_key: BackupKey | None = None, force: bool = False,
            environ=None, progress: Progress | None = None) -> dict:
    """Restore backup `backup_id` ("latest" for the newest) into the instance `settings` describe."""
    progress = progress or (lambda fraction, message: None)
    environ = os.environ if environ is None else environ
    backup_id = resolve_id(target, backup_id)
    data = manifest.read(target, backup_id)

    # 1. Nothing is touched unless the whole backup reads back intact.
    keks = backup_key.open_keyring(_read(target, data["keyring"]["file"]), backup_id) if backup_key is not None else {}
    # Candidate keys come from the target's current escrow, whatever the backup's age (escrow.py).
    if "escrow" in data and backup_key is None:
        raise ConfigError(f"restoring backup {backup_id} needs the backup key (--backup-key-file or TALENTREEL_BACKUP_KEY): "
                          f"the candidates' keys are in {escrow.ESCROW_NAME}, sealed with it")
    held = escrow.read(target, backup_key) if backup_key is not None else None
    if held is not None:
        keks = {**held["keks"], **keks}
    existing = _configured_keks(settings, environ)
    keyring = Keyring({**keks, **existing}) if (keks or existing) else None
    if keyring is None:
        raise ConfigError(f"restoring backup {backup_id} needs its backup key (--backup-key-file or TALENTREEL_BACKUP_KEY), "
                          "or the key-encryption keys of the instance it came from (TALENTREEL_KEK_*)")
    progress(0.05, "verifying the backup")
    (checked,) = verify.verify(target, [backup_id], keyring=keyring, backup_key=backup_key)
    if not checked.ok:
        raise BackupError(f"backup {backup_id} is damaged; nothing was restored:\n  " + "\n  ".join(checked.problems))

    newest_known = max(v for v, _, _ in schema.MIGRATIONS)
    newer = [v for v in data.get("schema_versions", []) if v > newest_known]
    if newer:
        raise RestoreRefused(f"backup {backup_id} comes from a newer TalentReel (schema migration {max(newer)}; this one knows "
                             f"up to {newest_known}): upgrade TalentReel first, then restore")

    # 2. Never over data, unless asked to.
    storage = instance_storage(settings)
    reasons = what_is_there(settings, storage)
    if reasons and not force:
        raise RestoreRefused(f"the instance at {settings['data_dir']} is not empty: " + "; ".join(reasons)
                             + ". Restore into an empty instance, or use --force to replace what it holds")
    if data["database"]["engine"] != dump.engine_of(settings["database_url"]):
        raise RestoreRefused(f"backup {backup_id} holds a {data['database']['engine']} database but the instance uses "
                             f"{dump.engine_of(settings['database_url'])}; set database_url to a {data['database']['engine']} database")

    # 3. Keys first: without them the restored data is unreadable.
    installed = _install_keks(settings, keks, existing)
    _check_fingerprints(data, Keyring({**keks, **existing}))

    # 4. The database, then the objects.
    progress(0.15, "loading the database")
    work_dir = Path(settings["data_dir"], "run")
    work_dir.mkdir(parents=True, exist_ok=True)
    key = verify.dump_key(data, keyring=keyring, backup_key=backup_key)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="restore-") as tmp:
        plain = Path(tmp, "database.dump")
        with target.open(data["database"]["file"]) as fh:
            header = fmt.read_header(fh, data["database"]["file"])
            reader = DecryptingReader(fh, fmt.ObjectCipher(key, header, data["database"]["file"]), data["database"]["bytes"],
                                      close_underlying=False)
            with open(plain, "wb") as out:
                shutil.copyfileobj(reader, out, 1024 * 1024)
        if data["database"].get("candidate_key_rows") is not None:
            Path(str(plain) + dump.KEY_SKELETON_SUFFIX).write_text(json.dumps(data["database"]["candidate_key_rows"]))
        # Idle pooled connections of this process would outlive the database they were opened on
        # (SQLite: the replaced file, whose WAL is deleted); drop them so the next use reconnects.
        live = database_proxy.obj
        if live is not None and hasattr(live, "close_idle"):
            live.close_idle()
        dump.load(settings["database_url"], plain, data["database"]["engine"])
    if force:
        for stale in list(storage.keys("")):
            storage.delete(stale)
    objects = data["objects"]
    for index, obj in enumerate(objects):
        with target.open(obj["blob"]) as fh:
            storage.put(obj["key"], fh)
        if obj.get("tier") == "cold" and hasattr(storage, "set_tier"):
            storage.set_tier(obj["key"], "cold")
        if index % 20 == 0:
            progress(0.3 + 0.65 * (index + 1) / len(objects), f"objects {index + 1}/{len(objects)}")

    # 5. The restored database is used as any other: migrated, and told what happened.
    restored = open_database(settings["database_url"])
    previous = database_proxy.obj  # a process that serves another instance gets its binding back
    database_proxy.initialize(restored)
    try:
        with restored.connection_context():
            applied = schema.migrate(restored)
            # The restored tags are not those any running search index holds (pool/changes.py).
            from ..pool import changes

            changes.retoken(restored)
            keys = escrow.apply(held)
            m.BackupRun.update(status="failed", finished_at=m.utcnow(),
                               error=f"was running when backup {backup_id} was taken; restored from that backup") \
                .where(m.BackupRun.status == "running").execute()
            from .. import audit

            audit.record("backup.restore", object_type="backup", object_id=backup_id,
                         details={"objects": len(objects), "forced": force, "keys_installed": installed, **keys})
    finally:
        if hasattr(restored, "close_all"):
            restored.close_all()
        elif not restored.is_closed():
            restored.close()
        if previous is not None:
            database_proxy.initialize(previous)
    progress(1.0, "restored")
    return {"backup_id": backup_id, "database": data["database"]["engine"], "objects": len(objects),
            "bytes": sum(o["bytes"] for o in objects), "keys_installed": installed, "migrations_applied": applied, **keys,
            "warnings": data.get("warnings", [])}


def _read(target: BackupTarget, name: str) -> bytes:
    with target.open(name) as fh:
        return fh.read()


def _configured_keks(settings, environ) -> dict[int, bytes]:
    """KEKs the instance restored into already has (environment or key files), creating none."""
    try:
        ring = Keyring.load(settings["data_dir"], mode="production", environ=environ)
    except ConfigError as exc:
        if "no key-encryption key" in str(exc):
            return {}
        raise
    return {v: ring._kek(v) for v in ring.versions}


def _install_keks(settings, keks: dict[int, bytes], existing: dict[int, bytes]) -> list[int]:
    """Write the backup's KEKs the instance lacks to DATA_DIR/keys (0600 in 0700); refuse when the
    instance has a different key under the same version: that would make one of them unreadable."""
    key_dir = Path(settings["data_dir"], KEY_DIRNAME)
    for version, key in keks.items():
        if version in existing and not hmac.compare_digest(existing[version], key):
            raise RestoreRefused(f"key-encryption key version {version} of this instance differs from the one in the backup; "
                                 f"remove it (after making sure nothing needs it) or restore into a fresh data directory")
    installed = []
    for version, key in sorted(keks.items()):
        if version in existing:
            continue
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = key_dir / f"kek-{version}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(key).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        installed.append(version)
    return installed


def _check_fingerprints(data: dict, keyring: Keyring) -> None:
    for version, fingerprint in data["keyring"]["kek_fingerprints"].items():
        if int(version) in keyring.versions and keyring.fingerprint(int(version)) != fingerprint:
            raise RestoreRefused(f"key-encryption key version {version} does not match the backup's (fingerprint {fingerprint})")
