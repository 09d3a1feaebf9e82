"""Commands for backups: take one, verify them, restore one (docs/backup.md)."""

from __future__ import annotations

import click

from . import Instance, cli, emit, json_option, pass_instance


def _run_text(run) -> str:
    return (f"backup {run.backup_id} {run.status} to {run.target}: {run.objects} object(s), {run.objects_copied} copied now, "
            f"{run.bytes} byte(s) written, {run.total_bytes} byte(s) in all")


def _run_dict(run) -> dict:
    return {"backup_id": run.backup_id, "status": run.status, "target": run.target, "started_at": run.started_at,
            "finished_at": run.finished_at, "bytes": run.bytes, "total_bytes": run.total_bytes, "objects": run.objects,
            "objects_copied": run.objects_copied, "database": run.database_engine, "error": run.error, "details": run.details}


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def backup(ctx, as_json):
    """Back up the database and stored objects to the backup target (see `backup verify`)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..backups.create import run_backup

    instance: Instance = ctx.find_object(Instance)
    app = instance.app()
    state = app.extensions["talentreel"]
    with state.database.connection_context():
        run = run_backup(state, triggered_by="cli",
                         progress=None if as_json else lambda f, msg: click.echo(f"  {f * 100:3.0f}% {msg}", err=True))
    emit(_run_dict(run), as_json, _run_text(run) + "".join(f"\nwarning: {w}" for w in run.details.get("warnings", [])))


@backup.command("verify")
@click.argument("backup_id", required=False)
@json_option
@pass_instance
def backup_verify(instance: Instance, backup_id, as_json):
    """Read back every file of BACKUP_ID (default: every backup) and check every checksum.

    Exit status 1 when anything is wrong; each problem names the file."""
    from ..backups import backupkey, verify
    from ..backups.restore import resolve_id
    from ..backups.target import BackupTarget
    from ..encryption.keyring import Keyring

    app = instance.app()
    state = app.extensions["talentreel"]
    target = BackupTarget.from_settings(state.settings, state.plugins)
    ids = [resolve_id(target, backup_id)] if backup_id else None
    keyring = Keyring.from_settings(state.settings)
    results = verify.verify(target, ids, keyring=keyring, backup_key=backupkey.load(state.settings))
    with state.database.connection_context():
        verify.record(results)
    lines = []
    for r in results:
        lines.append(f"backup {r.backup_id}: " + ("ok" if r.ok else f"{len(r.problems)} problem(s)") + f" ({r.files} file(s), {r.bytes} byte(s) read)")
        lines += [f"  {p}" for p in r.problems]
    if not results:
        lines.append(f"backup target {target.where} holds no backup")
    emit({"target": target.where, "backups": [r.as_dict() for r in results], "ok": all(r.ok for r in results)}, as_json, "\n".join(lines))
    return 0 if all(r.ok for r in results) else 1


@backup.command("list")
@json_option
@pass_instance
def backup_list(instance: Instance, as_json):
    """The backups on the target, oldest first."""
    from ..backups.target import BackupTarget

    state = instance.app().extensions["talentreel"]
    target = BackupTarget.from_settings(state.settings, state.plugins)
    ids = target.backup_ids()
    emit({"target": target.where, "backups": ids}, as_json, "\n".join(ids) or f"backup target {target.where} holds no backup")


@backup.command("key")
@click.option("--show", is_flag=True, help="Also print the key itself (base64), to copy into a password manager.")
@json_option
@pass_instance
def backup_key(instance: Instance, show, as_json):
    """Where the backup key comes from and its fingerprint (the one each manifest records)."""
    import base64

    from ..backups import backupkey

    key = backupkey.require(instance.settings)
    data = {"source": key.source, "fingerprint": key.fingerprint}
    if show:
        data["key"] = base64.b64encode(key.key).decode()
    text = f"backup key from {key.source}, fingerprint {key.fingerprint}" + (f"\n{data['key']}" if show else
                                                                             "\nkeep a copy away from this machine (--show prints it)")
    emit(data, as_json, text)


@cli.command()
@click.argument("backup_id")
@click.option("--into", "into", required=True, type=click.Path(file_okay=False),
              help="Data directory of the instance to restore into (new or empty).")
@click.option("--database-url", help="Database of that instance (default: its config, or SQLite inside --into).")
@click.option("--from", "source", type=click.Path(file_okay=False), help="Directory holding the backups (default: the backup settings).")
@click.option("--backup-key-file", type=click.Path(dir_okay=False, exists=True), help="File with the backup key (default: backup_key / backup_key_file).")
@click.option("--force", is_flag=True, help="Replace what the instance holds (it is refused otherwise).")
@json_option
def restore(backup_id, into, database_url, source, backup_key_file, force, as_json):
    """Restore backup BACKUP_ID (or `latest`) into the instance at --into."""
    from ..backups import backupkey
    from ..backups.restore import restore as do_restore
    from ..backups.target import BackupTarget
    from ..config import load_settings
    from ..plugins import make_plugin_manager

    overrides = {"data_dir": into}
    if database_url:
        overrides["database_url"] = database_url
    if source:
        overrides["backup_backend"] = "local"
    settings = load_settings(overrides)
    plugins = make_plugin_manager(settings)
    target = BackupTarget.from_settings(settings, plugins, path=source)
    key = backupkey.load(settings, key_file=backup_key_file)
    result = do_restore(settings, target, backup_id, backup_key=key, force=force,
                        progress=None if as_json else lambda f, msg: click.echo(f"  {f * 100:3.0f}% {msg}", err=True))
    text = (f"restored backup {result['backup_id']} into {into}: {result['database']} database, {result['objects']} object(s)"
            + (f"; key-encryption key version(s) {', '.join(map(str, result['keys_installed']))} written to {into}/keys"
               if result["keys_installed"] else ""))
    emit(result, as_json, text)
