"""The log of which candidates' tags changed, kept by the database itself.

The search's in-memory index (postings.py) must learn of every change to `candidate_tag`, whoever
makes it: taggers, HR's manual tags, migrators, merges of duplicate candidates, a candidate or a
tag deleted (rows removed by ON DELETE CASCADE), a restore. Triggers see all of them, application
code does not, so the database writes the log:

- `candidate_tag_change (generation, candidate_id)`: a row per candidate whose tags changed.
  Committed generations are contiguous and commit in order, which is what lets a reader that has
  seen generation G read exactly what came after it:
  - SQLite: a row trigger, `generation` an AUTOINCREMENT key. One writer at a time, so ids are
    taken in commit order; a rolled-back insert gives its id back (the index never reads inside a
    transaction, so it never saw it).
  - PostgreSQL: a statement trigger (with transition tables: one bump per statement, not per
    row, so a COPY of a million tags bumps once) that increments `pool_index_state.generation`.
    That row stays locked until the writer commits, so writers of candidate tags commit in
    generation order; a reader reads the committed counter first and then the log up to it.
- `pool_index_state (token, generation)`: `token` names this database's log. It is new for a
  new database and for a restored one (restore() calls retoken): an index that remembered
  another log's generations then starts over instead of applying the wrong tail.

The log is pruned (prune(), hourly on the maintenance queue) to its last KEEP_GENERATIONS
generations; a reader further behind than that reloads everything, which it would do anyway.
"""

from __future__ import annotations

import peewee as pw

from ..db import is_postgres, underlying

KEEP_GENERATIONS = 200_000
"""Generations kept by prune(): an index further behind than that reloads everything, which at
that many changes costs about what reading them would."""

_SQLITE_TOKEN = "lower(hex(randomblob(16)))"
_PG_TOKEN = "md5(random()::text || clock_timestamp()::text)"

_SQLITE = (
    "CREATE TABLE IF NOT EXISTS pool_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL)",
    "INSERT OR IGNORE INTO pool_index_state (id, token) VALUES (1, " + _SQLITE_TOKEN + ")",
    "CREATE TABLE IF NOT EXISTS candidate_tag_change (generation INTEGER PRIMARY KEY AUTOINCREMENT, candidate_id INTEGER NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS candidate_tag_change_insert AFTER INSERT ON candidate_tag BEGIN "
    "INSERT INTO candidate_tag_change (candidate_id) VALUES (NEW.candidate_id); END",
    "CREATE TRIGGER IF NOT EXISTS candidate_tag_change_delete AFTER DELETE ON candidate_tag BEGIN "
    "INSERT INTO candidate_tag_change (candidate_id) VALUES (OLD.candidate_id); END",
    "CREATE TRIGGER IF NOT EXISTS candidate_tag_change_update AFTER UPDATE OF candidate_id, tag_id, score ON candidate_tag BEGIN "
    "INSERT INTO candidate_tag_change (candidate_id) VALUES (OLD.candidate_id); "
    "INSERT INTO candidate_tag_change (candidate_id) SELECT NEW.candidate_id WHERE NEW.candidate_id <> OLD.candidate_id; END",
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION talentreel_candidate_tag_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE g bigint;
BEGIN
  -- An empty statement (an UPDATE or DELETE matching nothing) neither bumps nor locks.
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM new_rows LIMIT 1;
  ELSE
    PERFORM 1 FROM old_rows LIMIT 1;
  END IF;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- An upsert, not an UPDATE: a state row someone deleted (a TRUNCATE of every table) comes back
  -- with a new token, and indexes start over.
  INSERT INTO pool_index_state (id, token, generation) VALUES (1, """ + _PG_TOKEN + """, 1)
    ON CONFLICT (id) DO UPDATE SET generation = pool_index_state.generation + 1 RETURNING generation INTO g;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO candidate_tag_change (generation, candidate_id) SELECT DISTINCT g, candidate_id FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO candidate_tag_change (generation, candidate_id) SELECT DISTINCT g, candidate_id FROM old_rows;
  ELSE
    INSERT INTO candidate_tag_change (generation, candidate_id)
      SELECT g, candidate_id FROM old_rows UNION SELECT g, candidate_id FROM new_rows;
  END IF;
  RETURN NULL;
END $$
"""

_PG = (
    "CREATE TABLE IF NOT EXISTS pool_index_state (id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL, "
    "generation bigint NOT NULL DEFAULT 0)",
    "INSERT INTO pool_index_state (id, token) VALUES (1, " + _PG_TOKEN + ") ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS candidate_tag_change (generation bigint NOT NULL, candidate_id integer NOT NULL)",
    "CREATE INDEX IF NOT EXISTS candidate_tag_change_generation ON candidate_tag_change (generation)",
    _PG_FUNCTION,
    "DROP TRIGGER IF EXISTS candidate_tag_change_insert ON candidate_tag",
    "CREATE TRIGGER candidate_tag_change_insert AFTER INSERT ON candidate_tag REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION talentreel_candidate_tag_changed()",
    "DROP TRIGGER IF EXISTS candidate_tag_change_delete ON candidate_tag",
    "CREATE TRIGGER candidate_tag_change_delete AFTER DELETE ON candidate_tag REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION talentreel_candidate_tag_changed()",
    "DROP TRIGGER IF EXISTS candidate_tag_change_update ON candidate_tag",
    "CREATE TRIGGER candidate_tag_change_update AFTER UPDATE ON candidate_tag REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION talentreel_candidate_tag_changed()",
)

TABLES = ("pool_index_state", "candidate_tag_change")
"""The log's tables: bookkeeping, not data (a fresh database holds a state row)."""


def install(db: pw.Database) -> None:
    """Create the log's tables and triggers (idempotent)."""
    for statement in _PG if is_postgres(db) else _SQLITE:
        db.execute_sql(statement)


def state(db) -> tuple[str, int] | None:
    """(token, newest committed generation) of the database's log; None before migration 14."""
    db = underlying(db)
    if is_postgres(db):
        sql = "SELECT token, generation FROM pool_index_state WHERE id = 1"
    else:
        sql = "SELECT token, (SELECT COALESCE(MAX(generation), 0) FROM candidate_tag_change) FROM pool_index_state WHERE id = 1"
    try:
        row = db.execute_sql(sql).fetchone()
    except (pw.OperationalError, pw.ProgrammingError):  # no such table: an unmigrated database
        return None
    return (row[0], int(row[1])) if row else None


def oldest(db) -> int:
    """The oldest generation still in the log (0 when it is empty)."""
    return int(underlying(db).execute_sql("SELECT COALESCE(MIN(generation), 0) FROM candidate_tag_change").fetchone()[0])


def changed_since(db, generation: int, upto: int) -> list[int]:
    """The candidates whose tags changed after `generation`, up to `upto` (state()'s), each once."""
    db = underlying(db)
    mark = db.param
    rows = db.execute_sql(f"SELECT DISTINCT candidate_id FROM candidate_tag_change WHERE generation > {mark} AND generation <= {mark}",
                          (generation, upto)).fetchall()
    return [row[0] for row in rows]


def prune(db, keep: int = KEEP_GENERATIONS) -> int:
    """Delete all but the last `keep` generations of the log; return the rows deleted."""
    db = underlying(db)
    current = state(db)
    if current is None or current[1] <= keep:
        return 0
    return db.execute_sql(f"DELETE FROM candidate_tag_change WHERE generation <= {db.param}", (current[1] - keep,)).rowcount


def retoken(db) -> None:
    """Give the log a new name: indexes built on the database as it was start over (a restore)."""
    db = underlying(db)
    db.execute_sql(f"UPDATE pool_index_state SET token = {_PG_TOKEN if is_postgres(db) else _SQLITE_TOKEN} WHERE id = 1")
