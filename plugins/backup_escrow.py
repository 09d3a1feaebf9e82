"""Built-in plugin `backup_escrow`: an erasure reaches the backups at once.

When a candidate is erased, the candidate key escrow on the backup target (server/backups/escrow.py)
is rewritten without their key, so no backup - taken before or after - can decrypt their data any
more. Without a backup target there is nothing to do. When the target cannot be reached the
erasure goes on (the key is already destroyed in the database) and the failure is logged; the next
backup, which always rewrites the escrow, completes it.
"""

from __future__ import annotations

import logging

from flask import current_app

from talentreel.server.plugins import hookimpl

log = logging.getLogger("talentreel.backups")


def backups_configured(settings) -> bool:
    if settings["backup_backend"] == "s3":
        return bool(settings["backup_s3_bucket"])
    return bool(settings["backup_path"])


@hookimpl
def talentreel_candidate_erased(candidate_id):
    from talentreel.server.backups import backupkey, escrow
    from talentreel.server.backups.target import BackupTarget
    from talentreel.server.encryption.keyring import Keyring

    state = current_app.extensions["talentreel"]
    settings = state.settings
    if not backups_configured(settings):
        return
    try:
        key = backupkey.load(settings)
        if key is None:
            return  # no backup was ever taken: no escrow exists to hold the key
        written = escrow.write(BackupTarget.from_settings(settings, state.plugins), key, Keyring.from_settings(settings))
        log.info("candidate %s erased: key escrow rewritten (%s candidate keys)", candidate_id, written["candidate_keys"])
    except Exception as exc:
        log.error("candidate %s erased, but the backup key escrow could not be rewritten (%s); the next backup will", candidate_id, exc)
