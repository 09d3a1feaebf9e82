"""The manifest of one backup: every file it needs with size and SHA-256, the wrapped dump key,
the fingerprints of the keys, and a checksum of the manifest itself, so damage anywhere, the
manifest included, is reported naming the file.

Reading it back trusts nothing: a manifest that does not parse or whose own checksum fails is
reported as damaged and its backup is not used (for restore, or as a source of known objects).
"""

from __future__ import annotations

import hashlib
import io
import json

from .errors import BackupError
from .target import MANIFEST_NAME, BackupTarget, backup_file

FORMAT = 1


class ManifestDamaged(BackupError):
    pass


def _body(data: dict) -> bytes:
    return json.dumps({k: v for k, v in data.items() if k != "checksum"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode(data: dict) -> bytes:
    sealed = dict(data, checksum="sha256:" + hashlib.sha256(_body(data)).hexdigest())
    return json.dumps(sealed, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"


def decode(raw: bytes, name: str) -> dict:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestDamaged(f"{name}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or "checksum" not in data:
        raise ManifestDamaged(f"{name}: not a TalentReel backup manifest")
    if data["checksum"] != "sha256:" + hashlib.sha256(_body(data)).hexdigest():
        raise ManifestDamaged(f"{name}: checksum mismatch (the manifest was altered or damaged)")
    if data.get("format") != FORMAT:
        raise ManifestDamaged(f"{name}: manifest format {data.get('format')!r} is not supported (expected {FORMAT})")
    return data


def write(target: BackupTarget, data: dict) -> int:
    return target.put(backup_file(data["backup_id"], MANIFEST_NAME), io.BytesIO(encode(data)))


def read(target: BackupTarget, backup_id: str) -> dict:
    name = backup_file(backup_id, MANIFEST_NAME)
    with target.open(name) as fh:
        data = decode(fh.read(), name)
    if data.get("backup_id") != backup_id:
        raise ManifestDamaged(f"{name}: names backup {data.get('backup_id')!r} (moved from another backup)")
    return data


def files(data: dict) -> list[dict]:
    """Every file of the backup besides the manifest: {"name", "bytes", "sha256"}."""
    out = [{"name": data["database"]["file"], "bytes": data["database"]["bytes"], "sha256": data["database"]["sha256"]},
           {"name": data["keyring"]["file"], "bytes": data["keyring"]["bytes"], "sha256": data["keyring"]["sha256"]}]
    out += [{"name": o["blob"], "bytes": o["bytes"], "sha256": o["sha256"]} for o in data["objects"]]
    return out
