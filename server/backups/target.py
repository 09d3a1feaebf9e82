"""The backup target: a second storage backend, built by the same plugins as the primary storage,
standing for the offsite copy. Layout on it:

    backups/<backup id>/manifest.json   what the backup holds, written last
    backups/<backup id>/database.enc    the database dump, encrypted
    backups/<backup id>/keyring.enc     the key-encryption keys, sealed with the backup key
    objects/<object id>                 a stored object's ciphertext, shared by every backup naming it

Object ids are the ids written in each object's encryption header: an object is never rewritten
under the same id (a replacement gets a new one), so a name already on the target holds the same
bytes and is not copied again. Every failure of the target is turned into TargetUnavailable or
TargetFull naming the target and the file.
"""

from __future__ import annotations

import contextlib
import errno
import secrets
from pathlib import Path
from typing import Iterator

from ..errors import TalentReelError
from ..plugins import merged_by_name
from .errors import BackupError, TargetFull, TargetUnavailable

BACKUPS_PREFIX = "backups/"
OBJECTS_PREFIX = "objects/"
MANIFEST_NAME = "manifest.json"
DATABASE_NAME = "database.enc"
KEYRING_NAME = "keyring.enc"

NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
"""OS errors meaning the target (or the quota on it) is full."""


def backup_file(backup_id: str, name: str) -> str:
    return f"{BACKUPS_PREFIX}{backup_id}/{name}"


def object_blob(object_id: str) -> str:
    return f"{OBJECTS_PREFIX}{object_id}"


def _target_settings(settings, path: str | None) -> dict:
    """The settings the backup backend's factory sees: the primary storage settings with the
    backup target's location in their place, so any storage plugin can serve as a target."""
    overlay = dict(settings)
    overlay.update(storage_path=path if path is not None else settings["backup_path"], storage_cold_path="",
                   s3_bucket=settings["backup_s3_bucket"], s3_prefix=settings["backup_s3_prefix"])
    return overlay


def describe_target(settings, path: str | None = None) -> str:
    backend = settings["backup_backend"]
    if backend == "local":
        return f"directory {path if path is not None else settings['backup_path']}"
    if backend == "s3":
        prefix = settings["backup_s3_prefix"]
        return f"bucket {settings['backup_s3_bucket']}" + (f" (prefix {prefix})" if prefix else "")
    return f"backend {backend}"


class BackupTarget:
    def __init__(self, backend, where: str):
        self.backend = backend
        self.where = where

    @classmethod
    def from_settings(cls, settings, plugins, *, path: str | None = None) -> "BackupTarget":
        """The configured target (path: a local directory given instead of `backup_path`).
        TargetUnavailable when it is not configured, missing, or the same place as the primary storage."""
        name = settings["backup_backend"]
        where = describe_target(settings, path)
        if name == "local":
            root = path if path is not None else settings["backup_path"]
            if not root:
                raise TargetUnavailable("no backup target: set backup_path (a directory on another disk) or backup_backend = \"s3\" with backup_s3_bucket")
            # Never created here: a missing directory is most often a disk that is not mounted,
            # and a backup written to the empty mount point would fill the system disk instead.
            if not Path(root).is_dir():
                raise TargetUnavailable(f"backup target {where} does not exist (is the disk mounted?); create it first")
            storage_root = Path(settings["storage_path"]).resolve()
            if Path(root).resolve() == storage_root or storage_root in Path(root).resolve().parents:
                raise TargetUnavailable(f"backup target {where} is inside the primary storage {storage_root}; use another disk")
        elif name == "s3" and not settings["backup_s3_bucket"]:
            raise TargetUnavailable("setting 'backup_s3_bucket' is missing: an s3 backup target needs its own bucket")
        elif name == "s3" and settings["storage_backend"] == "s3" and settings["backup_s3_bucket"] == settings["s3_bucket"] \
                and settings["backup_s3_prefix"].strip("/") == settings["s3_prefix"].strip("/"):
            raise TargetUnavailable(f"backup target {where} is the primary storage itself; use another bucket or prefix")
        backends = merged_by_name(plugins, "talentreel_storage_backends")
        if name not in backends:
            raise TargetUnavailable(f"setting 'backup_backend': no plugin offers '{name}' (available: {', '.join(sorted(backends))})")
        try:
            backend = backends[name]["factory"](_target_settings(settings, path))
        except TalentReelError as exc:
            raise TargetUnavailable(f"backup target {where}: {exc}") from None
        return cls(backend, where)

    # --- checked access ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _translated(self, doing: str, name: str):
        try:
            yield
        except BackupError:
            raise
        except FileNotFoundError:
            raise BackupError(f"backup target {self.where}: {name} is missing") from None
        except OSError as exc:
            if exc.errno in NO_ROOM:
                raise TargetFull(f"backup target {self.where} is full: no room to write {name} ({exc.strerror})") from None
            raise TargetUnavailable(f"backup target {self.where}: cannot {doing} {name} ({exc.strerror or exc})") from None
        except TalentReelError as exc:  # e.g. the S3 plugin's StorageUnavailable
            raise TargetUnavailable(f"backup target {self.where}: cannot {doing} {name}: {exc}") from None

    def check_writable(self) -> None:
        """Write and delete a probe, so an unreachable or read-only target fails before any work."""
        name = f"{BACKUPS_PREFIX}.probe-{secrets.token_hex(6)}"
        import io

        with self._translated("write", name):
            self.backend.put(name, io.BytesIO(b"talentreel backup probe\n"))
        with self._translated("delete", name):
            self.backend.delete(name)

    def put(self, name: str, fileobj) -> int:
        with self._translated("write", name):
            return self.backend.put(name, fileobj)

    def open(self, name: str):
        with self._translated("read", name):
            return self.backend.open(name)

    def exists(self, name: str) -> bool:
        with self._translated("read", name):
            return self.backend.exists(name)

    def size(self, name: str) -> int:
        with self._translated("read", name):
            return self.backend.size(name)

    def delete(self, name: str) -> None:
        with self._translated("delete", name):
            self.backend.delete(name)

    def names(self, prefix: str) -> Iterator[str]:
        with self._translated("list", prefix):
            yield from list(self.backend.keys(prefix))

    def backup_ids(self) -> list[str]:
        """Ids of the backups whose manifest is on the target, oldest first (ids sort by time)."""
        suffix = "/" + MANIFEST_NAME
        return sorted(n[len(BACKUPS_PREFIX):-len(suffix)] for n in self.names(BACKUPS_PREFIX)
                      if n.endswith(suffix) and n.count("/") == 2)
