"""Key-encryption keys (KEKs): numbered 256-bit keys that wrap the keys kept in the database.

A KEK version comes from either place:

- the environment: ``TALENTREEL_KEK_<version>`` = base64 of 32 random bytes (production: a secret
  manager or orchestrator injects it; it never touches the data directory or its backups);
- a file ``DATA_DIR/keys/kek-<version>.key`` holding the same base64 text, mode 0600 in a 0700
  directory. Embedded mode creates ``kek-1.key`` on first use; production mode refuses to run
  without a KEK rather than invent one that would be backed up next to the data it protects.

The newest version wraps; older versions are only needed until ``talentreel keys rotate`` has
re-wrapped every key under the newest one (rotation.key_usage() tells when a version is unused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError
from .errors import KeyUnavailable
from .wrapping import UnwrapFailed, open_key, seal_key

log = logging.getLogger("talentreel.encryption")

ENV_PREFIX = "TALENTREEL_KEK_"
KEY_DIRNAME = "keys"
KEK_SIZE = 32
_ENV_NAME = re.compile(r"^TALENTREEL_KEK_(\d+)$")
_FILE_NAME = re.compile(r"^kek-(\d+)\.key$")


def kek_wrapper(version: int) -> str:
    """How a KEK is named inside wrapping AADs."""
    return f"kek:{version}"


def decode_key(text: str, where: str) -> bytes:
    """A 32-byte key given as base64 (environment, key files, the backup key), or ConfigError naming `where`."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEK_SIZE:
        raise ConfigError(f"{where}: expected base64 of {KEK_SIZE} bytes (e.g. the output of `openssl rand -base64 32`)")
    return key


class Keyring:
    """The KEK versions this process can use. Keys from a directory are re-read when a version
    is missing or a new one is asked for, so a rotation started by the CLI with a new key file is
    seen by the running web and worker processes without a restart."""

    def __init__(self, keks: Mapping[int, bytes] | None = None, *, key_dir: str | Path | None = None,
                 can_create: bool = False, sources: Mapping[int, str] | None = None):
        """keks: {version: 32-byte key} given directly (sources names where each came from, for
        messages); key_dir: a directory of kek-<version>.key files; can_create: embedded mode,
        where a missing first key is created in key_dir."""
        self._keks: dict[int, bytes] = {}
        self._sources: dict[int, str] = {}
        self._files_read: set[str] = set()
        self.key_dir = Path(key_dir) if key_dir is not None else None
        self.can_create = can_create
        for version, key in (keks or {}).items():
            self._add(int(version), key, (sources or {}).get(version, "the application"))
        self._scan_directory()
        if not self._keks:
            if not can_create:
                raise ConfigError(
                    f"no key-encryption key: set {ENV_PREFIX}1 to base64 of 32 random bytes "
                    "(`openssl rand -base64 32`) in the environment of every TalentReel process"
                )
            self.add_version()

    @classmethod
    def load(cls, data_dir: str | Path, *, mode: str = "embedded", environ: Mapping[str, str] | None = None) -> "Keyring":
        """KEKs from the environment and DATA_DIR/keys; embedded mode may create the first one."""
        environ = os.environ if environ is None else environ
        keks, sources = {}, {}
        for name, value in environ.items():
            match = _ENV_NAME.match(name)
            if match:
                keks[int(match.group(1))] = decode_key(value, f"environment variable {name}")
                sources[int(match.group(1))] = f"environment variable {name}"
        return cls(keks, key_dir=Path(data_dir, KEY_DIRNAME), can_create=mode == "embedded", sources=sources)

    @classmethod
    def from_settings(cls, settings: Mapping, environ: Mapping[str, str] | None = None) -> "Keyring":
        return cls.load(settings["data_dir"], mode=settings["mode"], environ=environ)

    # --- versions -------------------------------------------------------------------------

    @property
    def versions(self) -> tuple[int, ...]:
        self._scan_directory()
        return tuple(sorted(self._keks))

    @property
    def newest(self) -> int:
        return self.versions[-1]

    def fingerprint(self, version: int) -> str:
        """A short public identifier of a KEK, to compare deployments without showing the key."""
        return hmac.new(self._kek(version), b"talentreel kek fingerprint", hashlib.sha256).hexdigest()[:16]

    def source(self, version: int) -> str:
        self._kek(version)
        return self._sources[version]

    def add_version(self) -> int:
        """Create the next KEK version as a key file (embedded mode); return its number."""
        if not self.can_create or self.key_dir is None:
            raise ConfigError(
                f"new key-encryption keys are not created in production mode: add {ENV_PREFIX}"
                f"{(max(self._keks) + 1) if self._keks else 1} to the environment of every process, restart them, then rotate"
            )
        version = (max(self.versions) if self._keks else 0) + 1
        key = _create_key_file(self.key_dir, version)
        self._files_read.add(f"kek-{version}.key")
        self._add(version, key, str(self.key_dir / f"kek-{version}.key"))
        return version

    # --- wrapping ------------------------------------------------------------------------

    def wrap(self, key: bytes, subject: str, version: int | None = None) -> tuple[int, str]:
        """Wrap `key` under KEK `version` (default: the newest); return (version, blob)."""
        version = self.newest if version is None else version
        return version, seal_key(self._kek(version), key, subject, kek_wrapper(version))

    def unwrap(self, version: int, blob: str, subject: str) -> bytes:
        try:
            return open_key(self._kek(version), blob, subject, kek_wrapper(version))
        except UnwrapFailed:
            raise KeyUnavailable(
                f"{subject}: does not unwrap with key-encryption key version {version} "
                f"(from {self._sources[version]}): wrong key for that version, or the stored key was altered"
            ) from None

    # --- sources -------------------------------------------------------------------------

    def _kek(self, version: int) -> bytes:
        if version not in self._keks:
            self._scan_directory()
        if version not in self._keks:
            raise KeyUnavailable(
                f"key-encryption key version {version} is not configured (set {ENV_PREFIX}{version}"
                + (f" or restore {self.key_dir / f'kek-{version}.key'}" if self.key_dir else "") + ")"
            )
        return self._keks[version]

    def _add(self, version: int, key: bytes, source: str) -> None:
        if version < 1:
            raise ConfigError(f"{source}: key-encryption key versions start at 1")
        if version in self._keks and not hmac.compare_digest(self._keks[version], key):
            raise ConfigError(f"key-encryption key version {version} is given by both {self._sources[version]} and {source}, and they differ")
        self._keks.setdefault(version, key)
        self._sources.setdefault(version, source)

    def _scan_directory(self) -> None:
        if self.key_dir is None or not self.key_dir.is_dir():
            return
        for entry in os.scandir(self.key_dir):
            match = _FILE_NAME.match(entry.name)
            if not match or entry.name in self._files_read:
                continue
            self._files_read.add(entry.name)
            path = Path(entry.path)
            if path.stat().st_mode & 0o077:
                log.warning("key file %s is readable by other users; it should be mode 0600", path)
            self._add(int(match.group(1)), decode_key(path.read_text(), f"key file {path}"), str(path))


def _create_key_file(key_dir: Path, version: int) -> bytes:
    """Write kek-<version>.key atomically (complete or absent, never partly written); if another
    process created it first, use theirs."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = key_dir / f"kek-{version}.key"
    key = secrets.token_bytes(KEK_SIZE)
    fd, tmp = tempfile.mkstemp(dir=key_dir, prefix=".kek-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(key).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, target)  # fails if present: two first starts cannot each make a key 1
        except FileExistsError:
            return decode_key(target.read_text(), f"key file {target}")
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(key_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # losing this file after a crash would lose every object it protects
    finally:
        os.close(dir_fd)
    log.info("created key-encryption key version %d in %s", version, target)
    return key
