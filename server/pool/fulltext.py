"""The full-text index of transcripts, one backend per database behind one interface.

- SQLite: an FTS5 table over `transcript_segment.terms` (external content, kept in step by
  triggers), porter stemming on top of unicode61 word splitting;
- PostgreSQL: a stored tsvector column (`english` configuration) with a GIN index.

Both read the jieba-cut `terms` (segment.py), so Chinese is searched by words on both. A query is
a list of words that must all occur in one segment; the words are passed as bound parameters and
quoted for FTS5, so nothing a user types is ever syntax. Each lookup stops after `limit` segments:
a word said in most interviews cannot make one query read the whole index. The segments kept are
the same at every run (FTS5: the first by rowid; PostgreSQL: the first in the table's order), so
a capped search gives the same candidates every time and its pages hold still.
"""

from __future__ import annotations

import peewee as pw

from ..db import is_postgres


Passage = tuple[int, int]
"""(segment id, candidate id) of a matching transcript passage: plain tuples, since a frequent
word returns thousands and objects would cost more than the lookup."""


class SqliteFullText:
    name = "sqlite-fts5"

    def create_index(self, db: pw.Database) -> None:
        db.execute_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_fts USING fts5("
            "terms, content='transcript_segment', content_rowid='id', tokenize='porter unicode61')")
        db.execute_sql(
            "CREATE TRIGGER IF NOT EXISTS transcript_segment_fts_insert AFTER INSERT ON transcript_segment BEGIN "
            "INSERT INTO transcript_fts(rowid, terms) VALUES (new.id, new.terms); END")
        db.execute_sql(
            "CREATE TRIGGER IF NOT EXISTS transcript_segment_fts_delete AFTER DELETE ON transcript_segment BEGIN "
            "INSERT INTO transcript_fts(transcript_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END")
        db.execute_sql(
            "CREATE TRIGGER IF NOT EXISTS transcript_segment_fts_update AFTER UPDATE ON transcript_segment BEGIN "
            "INSERT INTO transcript_fts(transcript_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
            "INSERT INTO transcript_fts(rowid, terms) VALUES (new.id, new.terms); END")

    @staticmethod
    def match_expression(words: list[str]) -> str:
        # Every word a quoted FTS5 string: AND, NEAR, *, ^, : and quotes typed by a user stay text.
        return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)

    def forget(self, db: pw.Database, candidate_id: int) -> int:
        """Remove a candidate's passages, and merge the index so that no segment of it still
        carries their words (FTS5 keeps deleted entries in old segments until a merge)."""
        removed = db.execute_sql("DELETE FROM transcript_segment WHERE candidate_id = ?", (candidate_id,)).rowcount
        db.execute_sql("INSERT INTO transcript_fts(transcript_fts) VALUES ('optimize')")
        return removed

    def find(self, db: pw.Database, words: list[str], limit: int) -> list[Passage]:
        rows = db.execute_sql(
            "SELECT s.id, s.candidate_id FROM transcript_segment s JOIN "
            "(SELECT rowid AS id FROM transcript_fts WHERE transcript_fts MATCH ? LIMIT ?) hit ON hit.id = s.id",
            (self.match_expression(words), limit)).fetchall()
        return rows


class PostgresFullText:
    name = "postgresql-tsvector"
    CONFIG = "english"

    def create_index(self, db: pw.Database) -> None:
        from ..schema import column_exists

        if not column_exists(db, "transcript_segment", "tsv"):
            db.execute_sql(
                f"ALTER TABLE transcript_segment ADD COLUMN tsv tsvector "
                f"GENERATED ALWAYS AS (to_tsvector('{self.CONFIG}', terms)) STORED")
        db.execute_sql("CREATE INDEX IF NOT EXISTS transcript_segment_tsv ON transcript_segment USING GIN (tsv)")

    def forget(self, db: pw.Database, candidate_id: int) -> int:
        """Remove a candidate's passages (the generated column and the GIN index go with the rows;
        dead tuples are never in a dump and VACUUM reclaims them)."""
        return db.execute_sql("DELETE FROM transcript_segment WHERE candidate_id = %s", (candidate_id,)).rowcount

    def find(self, db: pw.Database, words: list[str], limit: int) -> list[Passage]:
        # The same passages every time: a word in most passages is a sequential scan, which
        # PostgreSQL starts wherever the last scan of the table stopped (synchronize_seqscans),
        # and a parallel scan hands rows out in any order; at 2.4M passages 8 runs of "w3" gave 8
        # different sets of 235-251 candidates, and page 2 of a search need not have continued
        # page 1. With both off (SET LOCAL: until this transaction ends) the scan reads the table
        # from its start. Not ORDER BY id: that reads every match of a mid-frequency word to sort
        # them (a word in 1 % of passages: 14 -> 104 ms).
        with db.atomic():
            db.execute_sql("SET LOCAL synchronize_seqscans = off; SET LOCAL max_parallel_workers_per_gather = 0")
            rows = db.execute_sql(
                f"SELECT id, candidate_id FROM transcript_segment WHERE tsv @@ plainto_tsquery('{self.CONFIG}', %s) LIMIT %s",
                (" ".join(words), limit)).fetchall()
        return rows


def backend_for(db) -> SqliteFullText | PostgresFullText:
    return PostgresFullText() if is_postgres(db) else SqliteFullText()
