"""Removing abandoned uploads: a maintenance step, run by the maintenance job.

An upload that received nothing for UPLOAD_MAX_AGE is abandoned: its part file and row go. Rows
of finished uploads (complete or failed) are receipts kept as long, then go the same way. Part
files with no row (the row went with its user or candidate, or a crash fell between deleting
the row and the file) go too; a row is committed before its part file is created, so a file
without a row is never one being set up. A part file some request is writing is never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from .. import models as m
from . import parts

log = logging.getLogger("talentreel.ingest")

UPLOAD_MAX_AGE = dt.timedelta(hours=24)
"""An upload untouched this long is abandoned; also what the Upload-Expires header announces."""


def expires_at(upload: m.Upload, max_age: dt.timedelta = UPLOAD_MAX_AGE) -> dt.datetime:
    return upload.updated_at + max_age


def remove_abandoned_uploads(data_dir: str | os.PathLike, max_age: dt.timedelta = UPLOAD_MAX_AGE,
                             now: dt.datetime | None = None) -> dict[str, int]:
    """Delete expired uploads and orphan part files; return {"expired", "orphans", "busy"} counts.

    data_dir: the instance's data directory (settings["data_dir"]).
    max_age: how long an upload may go without receiving bytes.
    now: naive UTC "now", for tests.
    """
    now = now or m.utcnow()
    counts = {"expired": 0, "orphans": 0, "busy": 0}
    for upload in list(m.Upload.select().where(m.Upload.updated_at < now - max_age).order_by(m.Upload.id)):
        if remove_upload(data_dir, upload):
            counts["expired"] += 1
        else:
            counts["busy"] += 1
    counts["orphans"] = _remove_orphans(parts.uploads_dir(data_dir))
    if any(counts.values()):
        log.info("uploads cleanup: %(expired)d expired, %(orphans)d orphan part files removed, %(busy)d busy", counts)
    return counts


def remove_upload(data_dir, upload: m.Upload) -> bool:
    """Delete an upload's part file and row; False (and nothing deleted) while a request writes it."""
    path = parts.part_path(data_dir, upload.token)
    try:
        with parts.PartFile(path):
            # Locked: no PATCH is writing. A PATCH waiting for the lock finds the row gone and answers 404.
            path.unlink()
            m.Upload.delete().where(m.Upload.id == upload.id).execute()
    except FileNotFoundError:  # finished uploads have no part file left
        m.Upload.delete().where(m.Upload.id == upload.id).execute()
    except parts.PartBusy:
        return False
    return True


def _remove_orphans(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    found = {}
    for entry in os.scandir(directory):
        match = parts.PART_NAME_RE.match(entry.name)
        if match and entry.is_file(follow_symlinks=False):  # anything else is not ours to delete
            found[match.group(1)] = Path(entry.path)
    if not found:
        return 0
    known = set()
    tokens = list(found)
    for start in range(0, len(tokens), 500):  # bounded IN lists
        batch = tokens[start:start + 500]
        known.update(u.token for u in m.Upload.select(m.Upload.token).where(m.Upload.token.in_(batch)))
    removed = 0
    for token in sorted(set(found) - known):
        path = found[token]
        try:
            with parts.PartFile(path):
                path.unlink()
            removed += 1
        except (FileNotFoundError, parts.PartBusy):
            continue
    return removed
