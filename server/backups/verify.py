"""`talentreel backup verify`: read every file of a backup back from the target and check its
size and SHA-256 against the manifest (as `restic check --read-data` does), then decrypt and
authenticate the database dump and open the sealed keyring when the keys are at hand. Every
problem names the file; an object shared by several backups is read once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import models as m
from ..encryption import format as fmt
from ..encryption.keyring import Keyring
from . import manifest
from .backupkey import BackupKey, dump_subject
from .errors import BackupError
from .hashing import file_digest
from .target import MANIFEST_NAME, BackupTarget, backup_file


@dataclass
class VerifyResult:
    backup_id: str
    problems: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"backup_id": self.backup_id, "ok": self.ok, "problems": self.problems, "files": self.files, "bytes": self.bytes}


def verify(target: BackupTarget, backup_ids: list[str] | None = None, *, keyring: Keyring | None = None,
           backup_key: BackupKey | None = None) -> list[VerifyResult]:
    """Verify the named backups (default: every backup on the target)."""
    ids = backup_ids if backup_ids is not None else target.backup_ids()
    checked: dict[str, str | None] = {}  # file name -> problem (None: good), across backups
    return [_verify_one(target, backup_id, checked, keyring, backup_key) for backup_id in ids]


def _verify_one(target, backup_id, checked, keyring, backup_key) -> VerifyResult:
    result = VerifyResult(backup_id)
    try:
        data = manifest.read(target, backup_id)
    except BackupError as exc:
        result.problems.append(str(exc) if MANIFEST_NAME in str(exc) else f"{backup_file(backup_id, MANIFEST_NAME)}: {exc}")
        return result
    for entry in manifest.files(data):
        name = entry["name"]
        if name not in checked:
            checked[name] = _check_file(target, entry)
            result.bytes += entry["bytes"]
        result.files += 1
        if checked[name]:
            result.problems.append(checked[name])
    if not result.problems:
        result.problems += _check_contents(target, data, keyring, backup_key)
    return result


def _check_file(target: BackupTarget, entry: dict) -> str | None:
    name = entry["name"]
    try:
        with target.open(name) as fh:
            size, digest = file_digest(fh)
    except BackupError as exc:
        return f"{name}: cannot be read ({exc})"
    if size != entry["bytes"]:
        return f"{name}: {size} bytes, the manifest says {entry['bytes']} (truncated or extended)"
    if digest != entry["sha256"]:
        return f"{name}: checksum mismatch (manifest sha256 {entry['sha256'][:16]}..., read {digest[:16]}...)"
    return None


def dump_key(data: dict, *, keyring: Keyring | None, backup_key: BackupKey | None) -> bytes | None:
    """The backup's dump key from the instance's KEKs or from the backup key; None without either."""
    wrapped = data["database"]["dump_key"]
    backup_id = data["backup_id"]
    if keyring is not None:
        try:
            return keyring.unwrap(wrapped["kek_version"], wrapped["kek_wrapped"], dump_subject(backup_id))
        except Exception:
            if backup_key is None:
                raise
    if backup_key is not None:
        return backup_key.unwrap_dump_key(wrapped["backup_key_wrapped"], backup_id)
    return None


def _check_contents(target, data, keyring, backup_key) -> list[str]:
    """Beyond checksums: the dump decrypts and authenticates, the keyring opens."""
    problems = []
    name = data["database"]["file"]
    try:
        key = dump_key(data, keyring=keyring, backup_key=backup_key)
    except Exception as exc:
        return [f"{name}: its dump key cannot be unwrapped ({exc})"]
    if key is not None:
        try:
            with target.open(name) as fh:
                header = fmt.read_header(fh, name)
                fmt.verify(fh, fmt.ObjectCipher(key, header, name), data["database"]["bytes"])
        except Exception as exc:
            problems.append(f"{name}: {exc}")
    if backup_key is not None:
        keyring_name = data["keyring"]["file"]
        if data["keyring"]["backup_key_fingerprint"] != backup_key.fingerprint:
            problems.append(f"{keyring_name}: sealed with backup key {data['keyring']['backup_key_fingerprint']}, "
                            f"not the one given ({backup_key.fingerprint})")
        else:
            try:
                with target.open(keyring_name) as fh:
                    backup_key.open_keyring(fh.read(), data["backup_id"])
            except BackupError as exc:
                problems.append(str(exc))
    return problems


def record(results: list[VerifyResult]) -> None:
    """Keep each result on the BackupRun of the backup it checked (when this database has one)."""
    for result in results:
        m.BackupRun.update(verified_at=m.utcnow(), verify_ok=result.ok, verify_problems=result.problems or None) \
            .where(m.BackupRun.backup_id == result.backup_id).execute()


