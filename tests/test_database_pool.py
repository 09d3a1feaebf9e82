"""SQLite connections are pooled per process (server/db.py), and a pooled connection is never
used once the file at the database's path is another file: a replaced database (a restore, a
copy put in place by hand) must not keep receiving writes in the old, unlinked file."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from talentreel.server.db import FileBoundSqlitePool, open_database


@pytest.fixture
def pool(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'pool.db'}")
    assert isinstance(database, FileBoundSqlitePool)
    database.connect()
    database.execute_sql("CREATE TABLE t (v TEXT)")
    database.execute_sql("INSERT INTO t VALUES ('old')")
    database.close()  # back to the pool, still open
    yield database, tmp_path / "pool.db"
    database.close_all()


def values(database) -> list[str]:
    with database.connection_context():
        return [row[0] for row in database.execute_sql("SELECT v FROM t ORDER BY v")]


def test_a_pooled_connection_is_reused_while_its_file_stays(pool):
    database, _ = pool
    with database.connection_context():
        conn = database.connection()
    with database.connection_context():
        assert database.connection() is conn
    assert values(database) == ["old"]


def test_a_replaced_file_is_read_through_a_new_connection(pool, tmp_path):
    database, path = pool
    replacement = tmp_path / "replacement.db"
    with sqlite3.connect(replacement) as other:
        other.execute("CREATE TABLE t (v TEXT)")
        other.execute("INSERT INTO t VALUES ('restored')")
    other.close()
    path.unlink()
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.move(replacement, path)
    assert values(database) == ["restored"]
    with database.connection_context():
        database.execute_sql("INSERT INTO t VALUES ('written after')")
    with sqlite3.connect(path) as check:  # the write reached the file at the path
        assert [r[0] for r in check.execute("SELECT v FROM t ORDER BY v")] == ["restored", "written after"]


def test_a_file_moved_away_makes_the_database_unavailable(pool):
    database, path = pool
    aside = path.with_name("aside.db")
    path.rename(aside)
    path.mkdir()  # as a mount point left behind: SQLite cannot create a new empty database here
    with pytest.raises(Exception) as raised:
        values(database)
    assert "unable to open" in str(raised.value) or "unavailable" in str(raised.value).lower()
