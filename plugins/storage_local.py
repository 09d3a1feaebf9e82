"""Built-in storage backend `local`: objects as files under one directory.

Keys are server-generated (``recordings/12/original``); they are still checked so that no key can
name a path outside the root. Writes go to a temporary file renamed into place, so a crash never
leaves a half-written object under its final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from talentreel.server.plugins import hookimpl

COPY_BUFFER = 1024 * 1024


class LocalStorage:
    name = "local"

    def __init__(self, root: str):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def put(self, key: str, fileobj) -> int:
        """Store the stream under key (replacing any old object); return the bytes written."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(fileobj, out, COPY_BUFFER)
                out.flush()
                os.fsync(out.fileno())
                written = out.tell()
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def open(self, key: str):
        return open(self.path(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = ""):
        base = self.root
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".part-"):
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    yield key


@hookimpl
def talentreel_storage_backends():
    return {"local": lambda settings: LocalStorage(settings["storage_path"])}
