"""The database connection: one peewee proxy, bound per application from `database_url`.

SQLite runs in WAL mode with a busy timeout so the web process, the worker and CLI commands can
share one file. On both databases a request (or job) takes a connection from the process's pool
and gives it back after.
"""

from __future__ import annotations

import json
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
)


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
        # cross a fork (serve.py and workers/base.py drop the pool), and a pooled connection left
        # in a transaction is rolled back before reuse.
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False,
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
