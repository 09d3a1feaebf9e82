"""Commands for the keys that protect stored objects (docs/encryption.md)."""

from __future__ import annotations

import click

from . import Instance, cli, emit, json_option, pass_instance


@cli.group()
def keys():
    """Key-encryption keys: status and rotation."""


@keys.command("status")
@json_option
@pass_instance
def keys_status(instance: Instance, as_json):
    """Which key-encryption key versions exist and how many keys each wraps."""
    from ..encryption.keyring import Keyring
    from ..encryption.rotation import key_usage

    app = instance.app()
    keyring = Keyring.from_settings(instance.settings)
    with app.extensions["talentreel"].database.connection_context():
        usage = key_usage()
    data = {"newest": keyring.newest, "versions": [{"version": v, "fingerprint": keyring.fingerprint(v), "source": keyring.source(v)}
                                                   for v in keyring.versions], "usage": usage}
    text = "\n".join([f"newest key-encryption key: version {keyring.newest}"]
                     + [f"  v{v['version']}  {v['fingerprint']}  {v['source']}" for v in data["versions"]]
                     + [f"usage: {usage}"])
    emit(data, as_json, text)


@keys.command("rotate")
@click.option("--new-kek", is_flag=True, help="First create a new key-encryption key version (embedded mode).")
@json_option
@pass_instance
def keys_rotate(instance: Instance, new_kek, as_json):
    """Re-wrap every data and candidate key under the newest key-encryption key.

    Media is never re-encrypted. Safe to interrupt: run it again to finish."""
    from ..encryption.keyring import Keyring
    from ..encryption.rotation import rotate

    app = instance.app()
    keyring = Keyring.from_settings(instance.settings)
    if new_kek:
        keyring.add_version()
    with app.extensions["talentreel"].database.connection_context():
        result = rotate(keyring, progress=None if as_json else lambda r: click.echo(f"  re-wrapped {r.candidate_keys + r.data_keys} key(s)", err=True))
    emit(result.as_dict(), as_json, f"all keys wrapped by key-encryption key version {result.kek_version} "
         f"({result.candidate_keys} candidate key(s), {result.data_keys} data key(s) re-wrapped now)")
