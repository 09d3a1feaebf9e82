"""Backup and restore of an instance to a second storage target, the offsite copy (docs/backup.md).

- target:    the backup target, a storage backend from the plugins (a directory or a bucket)
- backupkey: the backup key, and what it seals (dump keys, the key-encryption keys)
- dump:      the database dumped (SQLite online backup, pg_dump) and loaded back (pg_restore)
- manifest:  what one backup holds, with a checksum of every file and of itself
- create:    `talentreel backup`: dump, copy new objects, write the manifest, apply retention
- retention: which backups to keep, and pruning the rest and objects nothing references
- verify:    `talentreel backup verify`: read everything back, check every checksum
- restore:   `talentreel restore`: into an empty instance

Stored objects are copied as the ciphertext they are at rest (never decrypted); the database dump
is encrypted here. A backup counts as done only once its manifest is on the target.
"""

from .errors import BackupError, RestoreRefused, TargetFull, TargetUnavailable

__all__ = ["BackupError", "RestoreRefused", "TargetFull", "TargetUnavailable"]
