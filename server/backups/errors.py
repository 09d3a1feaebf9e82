"""The errors of backup and restore; each message names the target, backup or file at fault."""

from __future__ import annotations

from ..errors import TalentReelError


class BackupError(TalentReelError):
    """A backup, verification or restore could not be done."""


class TargetUnavailable(BackupError):
    """The backup target cannot be reached: not configured, directory missing (not mounted),
    not writable, endpoint down, bucket missing or access refused."""


class TargetFull(BackupError):
    """The backup target has no room left for what is being written."""


class RestoreRefused(BackupError):
    """Restoring would overwrite data: the instance restored into is not empty (use --force)."""


class BackupNotFound(BackupError):
    """No backup of that id on the target."""
