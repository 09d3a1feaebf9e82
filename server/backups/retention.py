"""Retention: keep the newest backup of each of the last N days and of each of the last M ISO
weeks, delete the others, then delete objects no kept backup names.

A backup is deleted manifest first, so a pruning cut short leaves files without a manifest (not
a backup, removed next time) rather than a manifest naming missing files. Objects are only pruned
when every kept manifest could be read: an object a damaged manifest might name is kept.
"""

from __future__ import annotations

import datetime as dt
import logging

from . import manifest
from .errors import BackupError
from .target import BACKUPS_PREFIX, MANIFEST_NAME, OBJECTS_PREFIX, BackupTarget, backup_file

log = logging.getLogger("talentreel.backups")


def backup_time(backup_id: str) -> dt.datetime:
    return dt.datetime.strptime(backup_id.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ")


def to_keep(backup_ids: list[str], keep_daily: int, keep_weekly: int) -> set[str]:
    """The ids retention keeps; the newest backup is always among them."""
    ordered = sorted(backup_ids, reverse=True)
    keep: set[str] = set(ordered[:1])
    for period, limit in ((lambda t: t.date(), keep_daily), (lambda t: t.isocalendar()[:2], keep_weekly)):
        seen = []
        for backup_id in ordered:
            key = period(backup_time(backup_id))
            if key in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(key)
            keep.add(backup_id)
    return keep


def apply(target: BackupTarget, keep_daily: int, keep_weekly: int, *, protect: set[str] = frozenset()) -> dict:
    """Prune the target; protect: ids never deleted (the backup being written). Return what went."""
    ids = target.backup_ids()
    keep = to_keep(ids, keep_daily, keep_weekly) | set(protect)
    pruned = [b for b in ids if b not in keep]
    for backup_id in pruned:
        target.delete(backup_file(backup_id, MANIFEST_NAME))
    # Files of pruned backups and of runs that never wrote a manifest (failed, killed).
    files = 0
    for name in target.names(BACKUPS_PREFIX):
        parts = name.split("/")
        if len(parts) == 3 and parts[1] not in keep:
            target.delete(name)
            files += 1
    referenced: set[str] = set()
    for backup_id in keep:
        if backup_id not in ids:
            continue  # protected but not written yet: its objects are on the target unreferenced
        try:
            referenced |= {o["blob"] for o in manifest.read(target, backup_id)["objects"]}
        except BackupError as exc:
            log.warning("not pruning objects: %s", exc)
            return {"backups": pruned, "files": files, "objects": 0}
    objects = 0
    if not (set(protect) - set(ids)):
        for name in target.names(OBJECTS_PREFIX):
            if name not in referenced:
                target.delete(name)
                objects += 1
    return {"backups": pruned, "files": files, "objects": objects}
