"""The database, dumped into a file and loaded back, with the list of stored objects it names.

The list of objects is read from the same snapshot as the dump, so a backup copies exactly the
objects whose keys it holds: SQLite is copied with its online backup API (a consistent copy while
the instance keeps writing) and the list read from the copy; PostgreSQL exports a snapshot from a
REPEATABLE READ transaction, reads the list in it and has pg_dump dump that same snapshot.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import BackupError, RestoreRefused

STORED_OBJECTS = "SELECT object_id, object_key, ciphertext_size FROM data_key WHERE stored_at IS NOT NULL ORDER BY object_id"

KEY_SKELETON_SUFFIX = ".candidate-keys.json"
"""Beside a PostgreSQL dump: the candidate key rows' ids and dates (no keys), for the restore."""

KEEP_TABLES = ("schema_lock", "pool_index_state", "candidate_tag_change")
"""Tables that exist in a fresh database without holding data."""


def engine_of(url: str) -> str:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    raise BackupError(f"cannot back up a database of scheme {scheme!r}")


def sqlite_path(url: str) -> Path:
    path = unquote(url[len("sqlite:///"):])
    if path in ("", ":memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored into")
    return Path(path)


def _iso(value):
    return value.isoformat() if value is not None else None


def _objects(rows) -> list[dict]:
    return [{"object_id": r[0], "key": r[1], "bytes": r[2]} for r in rows]


# --- dump ---------------------------------------------------------------------------------------


def dump(url: str, out: Path) -> list[dict]:
    """Write the database to `out`; return the stored objects the dump names."""
    return _dump_sqlite(url, out) if engine_of(url) == "sqlite" else _dump_postgres(url, out)


def _dump_sqlite(url: str, out: Path) -> list[dict]:
    source = sqlite3.connect(sqlite_path(url), timeout=30)
    try:
        copy = sqlite3.connect(out)
        try:
            source.backup(copy)  # pages copied in steps; a consistent snapshot whatever writes meanwhile
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            # Candidate keys travel in the escrow, never in a dump (escrow.py); VACUUM so that no
            # freed page keeps them either.
            copy.execute("UPDATE candidate_key SET wrapped = NULL, kek_version = NULL")
            copy.commit()
            copy.execute("VACUUM")
            rows = copy.execute(STORED_OBJECTS).fetchall()
        finally:
            copy.close()
    finally:
        source.close()
    return _objects(rows)


def _pg_params(url: str) -> tuple[dict, dict]:
    """(psycopg2 connect arguments, libpq environment for pg_dump/pg_restore) of a URL."""
    parsed = urlparse(url)
    params = {"dbname": unquote(parsed.path.lstrip("/")), "host": parsed.hostname or "127.0.0.1", "port": parsed.port or 5432}
    if parsed.username:
        params["user"] = unquote(parsed.username)
    if parsed.password:
        params["password"] = unquote(parsed.password)
    env = dict(os.environ, PGDATABASE=params["dbname"], PGHOST=params["host"], PGPORT=str(params["port"]))
    if "user" in params:
        env["PGUSER"] = params["user"]
    if "password" in params:
        env["PGPASSWORD"] = params["password"]  # never on the command line, where ps shows it
    return params, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client); it is needed to back up PostgreSQL")
    return path


def _run(args: list[str], env: dict, what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[0] if lines else f'exit status {result.returncode}'}")


def _dump_postgres(url: str, out: Path) -> list[dict]:
    import psycopg2

    params, env = _pg_params(url)
    pg_dump = _tool("pg_dump")
    conn = psycopg2.connect(connect_timeout=10, **params)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            cur.execute(STORED_OBJECTS)
            rows = cur.fetchall()
            # Candidate keys travel in the escrow, never in a dump (escrow.py): their table's rows
            # are left out, and only what a restore needs to put them back (ids) is kept beside it.
            cur.execute("SELECT id, candidate_id, created_at, rewrapped_at, destroyed_at FROM candidate_key ORDER BY id")
            skeleton = [[r[0], r[1], _iso(r[2]), _iso(r[3]), _iso(r[4])] for r in cur.fetchall()]
            # The snapshot lives as long as this transaction: pg_dump must finish inside it.
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  "--exclude-table-data=candidate_key", f"--file={out}"], env, "pg_dump")
            Path(str(out) + KEY_SKELETON_SUFFIX).write_text(json.dumps(skeleton))
        conn.rollback()
    finally:
        conn.close()
    return _objects(rows)


# --- what is in the database restored into ---------------------------------------------------


def holdings(url: str) -> dict[str, int]:
    """Rows per table of the database (tables that exist only); {} for a database with no tables."""
    if engine_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return {}
        conn = sqlite3.connect(path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables if t not in KEEP_TABLES}
        finally:
            conn.close()
    import psycopg2

    params, _ = _pg_params(url)
    conn = psycopg2.connect(connect_timeout=10, **params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [r[0] for r in cur.fetchall()]
            counts = {}
            for table in tables:
                if table not in KEEP_TABLES:
                    cur.execute(f'SELECT COUNT(*) FROM "{table}"')
                    counts[table] = cur.fetchone()[0]
        conn.rollback()
        return counts
    finally:
        conn.close()


def data_rows(url: str) -> int:
    """Rows that are data: everything but the schema's own bookkeeping."""
    return sum(n for table, n in holdings(url).items() if table != "schema_version")


# --- load -----------------------------------------------------------------------------------


def load(url: str, dump_file: Path, engine: str) -> None:
    """Replace the database's content with the dump. The caller has checked it may (empty or forced)."""
    if engine != engine_of(url):
        raise RestoreRefused(f"the backup holds a {engine} database and the instance restored into uses {engine_of(url)}; "
                             f"restore into a {engine} database (set database_url)")
    if engine == "sqlite":
        _load_sqlite(url, dump_file)
    else:
        _load_postgres(url, dump_file)


def _load_sqlite(url: str, dump_file: Path) -> None:
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".restoring")
    shutil.copyfile(dump_file, tmp)
    check = sqlite3.connect(tmp)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the restored SQLite database fails its integrity check")
    finally:
        check.close()
    for suffix in ("-wal", "-shm"):  # the old file's journal must not be replayed onto the new one
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.replace(tmp, path)


def _load_postgres(url: str, dump_file: Path) -> None:
    import psycopg2

    params, env = _pg_params(url)
    pg_restore = _tool("pg_restore")
    conn = psycopg2.connect(connect_timeout=10, **params)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # Empty (or forced): start from a bare schema so the dump's tables do not collide.
            cur.execute("DROP SCHEMA IF EXISTS public CASCADE")
            cur.execute("CREATE SCHEMA public")
    finally:
        conn.close()
    common = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", f"--dbname={params['dbname']}"]
    _run(common + ["--section=pre-data", "--section=data", str(dump_file)], env, "pg_restore")
    # The candidate key rows the dump left out, without their keys (escrow.apply gives them back),
    # before the constraints that need them.
    skeleton_file = Path(str(dump_file) + KEY_SKELETON_SUFFIX)
    skeleton = json.loads(skeleton_file.read_text()) if skeleton_file.exists() else []
    if skeleton:
        conn = psycopg2.connect(connect_timeout=10, **params)
        try:
            with conn, conn.cursor() as cur:
                cur.executemany("INSERT INTO candidate_key (id, candidate_id, kek_version, wrapped, created_at, rewrapped_at, destroyed_at) "
                                "VALUES (%s, %s, NULL, NULL, %s, %s, %s)", skeleton)
                cur.execute("SELECT setval(pg_get_serial_sequence('candidate_key', 'id'), (SELECT MAX(id) FROM candidate_key))")
        finally:
            conn.close()
    _run(common + ["--section=post-data", str(dump_file)], env, "pg_restore")
