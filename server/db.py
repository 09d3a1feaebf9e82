"""The database connection: one peewee proxy, bound per application from `database_url`.

SQLite runs in WAL mode with a busy timeout so the web process, the worker and CLI commands can
share one file. On both databases a request (or job) takes a connection from the process's pool
and gives it back after.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from .errors import DatabaseUnavailable

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("foreign_keys", 1),
    ("synchronous", "normal"),
    ("busy_timeout", 10000),
    # 32 MiB of pages per connection instead of SQLite's 2 MiB: a talent-pool search at 100,000
    # candidates touches more than 2 MiB of index pages, and each page evicted between requests
    # is read again through a system call. The sparse benchmark search's SQL: 8.5 -> 8.0 ms at
    # the median (docs/benchmarks.md). Pages are allocated as they are used, not up front.
    ("cache_size", -32768),
    # Pages read through a memory map of the file (its first 2 GiB: the most the SQLite Python
    # ships allows) rather than copied into each connection's cache by a system call. Searches
    # of different words each touch 20-30 MB of passages, more than a connection's cache keeps, so
    # through the web server with varied full-text searches on a pool of 100,000 candidates most
    # of their pages were read again every time: 30-35 % of their time (p50 32 -> 20 ms). The map
    # is the kernel's page cache, shared by every process; it shows in each process's RSS as the
    # pages it touched. An I/O error while reading the file becomes SIGBUS instead of an error.
    ("mmap_size", 2147418112),
)


class FileBoundSqlitePool(PooledSqliteDatabase):
    """A pool of SQLite connections, each used only while the file at the database's path is still
    the file it opened.

    A pooled connection holds its file open: if the file is replaced (a restore by another
    process, an admin copying a backup in) or moved away (its volume unmounted), the connection
    would go on reading and writing the old file, and writes would be lost without an error. So
    each check-out compares the path's device and inode with the connection's (one stat, a couple
    of microseconds); a connection whose file is no longer there is closed and a new one opened,
    which fails like any unavailable database (503) when there is no database file at the path.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._files: dict[int, tuple[int, int]] = {}  # conn_key -> (st_dev, st_ino) it opened
        self._files_lock = threading.Lock()

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.database)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _connect(self):
        conn = super()._connect()
        key = self.conn_key(conn)
        with self._files_lock:
            if key not in self._files:  # a new connection: remember the file it opened
                self._files[key] = self._identity()
        return conn

    def _is_closed(self, conn):
        if super()._is_closed(conn):
            self._forget(conn)
            return True
        with self._files_lock:
            opened = self._files.get(self.conn_key(conn))
        if opened is not None and opened == self._identity():
            return False
        self._close_raw(conn)  # its file was replaced or moved away: never use it again
        return True

    def _close_raw(self, conn):
        self._forget(conn)
        super()._close_raw(conn)

    def _forget(self, conn) -> None:
        with self._files_lock:
            self._files.pop(self.conn_key(conn), None)


def underlying(db) -> peewee.Database:
    """The database itself, for a database or the models' DatabaseProxy in front of one."""
    return getattr(db, "obj", None) or db


def is_postgres(db) -> bool:
    return isinstance(underlying(db), peewee.PostgresqlDatabase)


def open_database(url: str) -> peewee.Database:
    """Build (not connect) the peewee database for a URL."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db, as in SQLAlchemy.
        path = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if path in ("", ":memory:"):
            path = ":memory:"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path == ":memory:":  # each connection would be a database of its own: nothing to pool
            return peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)
        # Pooled like PostgreSQL: opening a connection runs the pragmas, and closing the last one
        # checkpoints the WAL and deletes it, only for the next request to create it again; per
        # request, that was most of the cost of a search that finds nothing. Connections never
        # cross a fork (serve.py and workers/base.py drop the pool), a pooled connection left
        # in a transaction is rolled back before reuse, and one whose file was replaced or moved
        # away is never reused (FileBoundSqlitePool).
        return FileBoundSqlitePool(path, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False,
                                   max_connections=32, stale_timeout=300)
    if parsed.scheme in ("postgres", "postgresql"):
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=32,
            stale_timeout=300,
            connect_timeout=5,
        )
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}")


def check_connection(db: peewee.Database, url: str) -> None:
    """Connect once so an unreachable database is reported at start-up in one line."""
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT 1")
    except peewee.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database at {redact_url(url)}: {reason}") from None
    finally:
        if not db.is_closed():
            db.close()


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(":" + parsed.password + "@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return url


class JSONField(peewee.TextField):
    """JSON stored as text: the same on SQLite and PostgreSQL, which keeps migrations portable."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)
