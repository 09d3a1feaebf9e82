"""The backup key: what a restore on a new machine needs besides the backup itself.

It is a 256-bit key the admin keeps away from the machine (a password manager, a safe). Every
backup's database dump is encrypted under a fresh dump key, which is wrapped twice: by the
instance's newest key-encryption key (so the running instance verifies and restores without the
backup key) and by the backup key (so a new machine can). The key-encryption keys themselves go
into each backup sealed with the backup key, since a lost machine loses DATA_DIR/keys with it.
Losing the backup key while the machine is gone loses the backups; losing the backup alone
reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigError
from ..encryption.keyring import KEK_SIZE, Keyring, decode_key
from ..encryption.wrapping import UnwrapFailed, open_key, seal_key
from .errors import BackupError

KEY_SIZE = KEK_SIZE  # decode_key checks this size
KEYRING_AAD = b"talentreel backup keyring v1|"


class BackupKey:
    def __init__(self, key: bytes, source: str):
        if len(key) != KEY_SIZE:
            raise ConfigError(f"{source}: expected base64 of {KEY_SIZE} bytes")
        self.key = key
        self.source = source
        self.created = False  # made just now: the admin must be told to keep a copy

    @property
    def fingerprint(self) -> str:
        """Public identifier recorded in manifests, so a wrong key is named as such."""
        return hmac.new(self.key, b"talentreel backup key fingerprint", hashlib.sha256).hexdigest()[:16]

    @property
    def wrapper(self) -> str:
        return f"backup-key:{self.fingerprint}"

    # --- what it seals ----------------------------------------------------------------------

    def wrap_dump_key(self, dump_key: bytes, backup_id: str) -> str:
        return seal_key(self.key, dump_key, dump_subject(backup_id), self.wrapper)

    def unwrap_dump_key(self, blob: str, backup_id: str) -> bytes:
        try:
            return open_key(self.key, blob, dump_subject(backup_id), self.wrapper)
        except UnwrapFailed:
            raise BackupError(f"backup {backup_id}: the dump key does not unwrap with the backup key from {self.source}") from None

    def seal_keyring(self, keyring: Keyring, backup_id: str) -> bytes:
        keks = {str(v): base64.b64encode(keyring._kek(v)).decode() for v in keyring.versions}
        nonce = os.urandom(12)
        return nonce + AESGCM(self.key).encrypt(nonce, json.dumps({"keks": keks}).encode(), KEYRING_AAD + backup_id.encode())

    def open_keyring(self, sealed: bytes, backup_id: str) -> dict[int, bytes]:
        try:
            plain = AESGCM(self.key).decrypt(sealed[:12], sealed[12:], KEYRING_AAD + backup_id.encode())
        except (InvalidTag, ValueError):
            raise BackupError(f"backup {backup_id}: keyring.enc does not open with the backup key from {self.source} "
                              "(another instance's backup key, or the file was altered)") from None
        return {int(v): base64.b64decode(k) for v, k in json.loads(plain)["keks"].items()}


def dump_subject(backup_id: str) -> str:
    return f"backup-dump backup={backup_id}"


def load(settings, *, key_file: str | None = None, create: bool = False) -> BackupKey | None:
    """The backup key from `backup_key`, else from the key file (key_file, else `backup_key_file`).
    create: embedded mode makes the file when there is none; otherwise None is returned."""
    if settings["backup_key"] and key_file is None:
        return BackupKey(decode_key(settings["backup_key"], "setting 'backup_key'"), "setting 'backup_key'")
    path = Path(key_file or settings["backup_key_file"])
    if path.is_file():
        return BackupKey(decode_key(path.read_text(), f"backup key file {path}"), f"backup key file {path}")
    if key_file is not None:
        raise ConfigError(f"backup key file {path} does not exist")
    if create and settings["mode"] == "embedded":
        key = BackupKey(_create(path), f"backup key file {path}")
        key.created = True
        return key
    return None


def require(settings, **kwargs) -> BackupKey:
    key = load(settings, **kwargs)
    if key is None:
        raise ConfigError(
            f"no backup key: set TALENTREEL_BACKUP_KEY to base64 of {KEY_SIZE} random bytes (`openssl rand -base64 32`) "
            f"or put it in {settings['backup_key_file']}; keep a copy away from this machine"
        )
    return key


def _create(path: Path) -> bytes:
    """Write a new key file atomically, mode 0600; another process's file wins a race."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEK_SIZE)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".backup-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(key).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return decode_key(path.read_text(), f"backup key file {path}")
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key
