"""`talentreel backup` and `talentreel backup verify` against copying and hashing the same bytes.

An instance holds N objects of random bytes (stored encrypted, as recordings are). Measured:

- a full backup (dump + every object copied, hashed on the way, manifest) to an empty directory,
  against `cp -r` of the storage directory and the database file to another directory;
- an incremental backup (nothing new: the dump and manifest only) against the same `cp -r`;
- `verify` of the backup (read back and hash every file, decrypt the dump) against reading and
  hashing the same files with hashlib in 1 MiB reads (coreutils' sha256sum is several times slower
  than OpenSSL's SHA-256 on this machine, so it would flatter verify).

Each side is the best of a few runs; the ratios are what docs/benchmarks.md records.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import common

MiB = 1024 * 1024
OBJECTS, OBJECT_BYTES, RUNS = 64, 4 * MiB, 3
QUICK_OBJECTS, QUICK_OBJECT_BYTES, QUICK_RUNS = 16, 1 * MiB, 2


def _fill(instance, count: int, size: int) -> None:
    with instance.database.connection_context():
        for index in range(count):
            instance.state.store.put(f"recordings/bench/{index}", io.BytesIO(os.urandom(size)), candidate_id=instance.candidate.id)


def run(ctx: common.Context) -> dict:
    from talentreel.server.backups import backupkey, verify
    from talentreel.server.backups.create import run_backup
    from talentreel.server.backups.target import BackupTarget
    from talentreel.server.encryption.keyring import Keyring

    count, size, runs = (QUICK_OBJECTS, QUICK_OBJECT_BYTES, QUICK_RUNS) if ctx.quick else (OBJECTS, OBJECT_BYTES, RUNS)
    instance = ctx.instance
    state = instance.state
    _fill(instance, count, size)
    storage_dir = Path(state.settings["storage_path"])
    db_file = Path(state.settings["database_url"][len("sqlite:///"):]) if state.settings["database_url"].startswith("sqlite") else None
    base_settings = dict(state.settings)
    targets = iter(range(1000))

    def fresh_target() -> Path:
        path = ctx.workdir / f"offsite-{next(targets)}"
        path.mkdir()
        return path

    def plain_copy():
        target = fresh_target()
        subprocess.run(["cp", "-r", str(storage_dir), str(target / "objects")], check=True)
        if db_file is not None:
            shutil.copyfile(db_file, target / "talentreel.db")
        subprocess.run(["sync", "-f", str(target)], check=True)  # backups fsync each file: so must the reference

    def full_backup():
        state.settings = dict(base_settings, backup_path=str(fresh_target()))
        with instance.database.connection_context():
            return run_backup(state, triggered_by="benchmark")

    copy_s, copy_all, _ = common.best_of(runs, plain_copy)
    full_s, full_all, full = common.best_of(runs, full_backup)
    with instance.database.connection_context():
        incremental_s, incremental_all, incremental = common.best_of(runs, lambda: run_backup(state, triggered_by="benchmark"))

    target = BackupTarget.from_settings(state.settings, state.plugins)
    files = [str(Path(state.settings["backup_path"], name)) for name in target.names("")]
    keyring, key = Keyring.from_settings(state.settings), backupkey.load(state.settings)
    verify_s, verify_all, results = common.best_of(runs, lambda: verify.verify(target, keyring=keyring, backup_key=key))
    def hash_files():
        for name in files:
            with open(name, "rb") as fh:
                hashlib.file_digest(fh, "sha256")

    sha_s, sha_all, _ = common.best_of(runs, hash_files)
    state.settings = base_settings

    full_ratio, incremental_ratio, verify_ratio = full_s / copy_s, incremental_s / copy_s, verify_s / sha_s
    return {
        "objects": count, "object_bytes": size, "backup_bytes": full.bytes, "database": instance.database_url.split(":")[0],
        "copy_s": copy_s, "full_s": full_s, "incremental_s": incremental_s, "verify_s": verify_s, "sha256sum_s": sha_s,
        "runs": {"copy": copy_all, "full": full_all, "incremental": incremental_all, "verify": verify_all, "sha256sum": sha_all},
        "incremental_copied": incremental.objects_copied, "verify_ok": all(r.ok for r in results),
        "full_ratio": full_ratio, "incremental_ratio": incremental_ratio, "verify_ratio": verify_ratio,
        "targets": [
            {"target": "full backup <= 3x cp -r of the same bytes", "value": f"{full_ratio:.2f}x", "met": full_ratio <= 3.0},
            {"target": "incremental backup (nothing new) <= 0.25x cp -r", "value": f"{incremental_ratio:.2f}x",
             "met": incremental_ratio <= 0.25 and incremental.objects_copied == 0},
            {"target": "verify <= 2x hashing the same files (hashlib)", "value": f"{verify_ratio:.2f}x", "met": verify_ratio <= 2.0},
        ],
    }


def report(results: dict) -> list[str]:
    total = results["objects"] * results["object_bytes"] / MiB
    return [
        f"{results['objects']} objects of {results['object_bytes'] / MiB:.0f} MiB ({total:.0f} MiB) stored encrypted, "
        f"{results['database']}; best of {len(results['runs']['copy'])} runs each",
        "",
        "| what | seconds | reference | seconds | ratio |", "|---|---|---|---|---|",
        f"| full backup (to an empty directory) | {results['full_s']:.2f} | `cp -r` + sync | {results['copy_s']:.2f} | {results['full_ratio']:.2f}x |",
        f"| incremental backup ({results['incremental_copied']} objects copied) | {results['incremental_s']:.2f} | `cp -r` + sync | "
        f"{results['copy_s']:.2f} | {results['incremental_ratio']:.2f}x |",
        f"| verify (read back, hash, decrypt the dump) | {results['verify_s']:.2f} | hashlib SHA-256 of the files | {results['sha256sum_s']:.2f} | "
        f"{results['verify_ratio']:.2f}x |",
    ]


if __name__ == "__main__":
    from run import main as run_main

    raise SystemExit(run_main(["--only", "backup", *os.sys.argv[1:]]))
