"""Schema migrations, applied in order and recorded in `schema_version`.

A migration is a function taking the database and a playhouse SchemaMigrator. Steps must be
idempotent (check before altering): migration 1 creates the tables from the current models, so on a
fresh database later steps find their change already present and do nothing, while an older
database gets exactly the steps it misses. `talentreel init` and every start-up run `migrate()`;
concurrent starters are serialised (PostgreSQL advisory lock, SQLite write lock).
"""

from __future__ import annotations

from typing import Callable

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from . import models

MIGRATIONS: list[tuple[int, str, Callable]] = []

ADVISORY_LOCK_KEY = 0x7A1E47  # arbitrary, constant: "talentreel schema"


def migration(version: int, name: str):
    def register(func):
        MIGRATIONS.append((version, name, func))
        return func

    return register


def column_exists(db: pw.Database, table: str, column: str) -> bool:
    return any(c.name == column for c in db.get_columns(table))


@migration(1, "initial schema")
def _initial(db, migrator):
    db.create_tables(models.ALL_MODELS, safe=True)


@migration(2, "encryption keys: candidate keys and data keys")
def _encryption_keys(db, migrator):
    db.create_tables([models.CandidateKey, models.DataKey], safe=True)


@migration(3, "resumable uploads")
def _uploads(db, migrator):
    db.create_tables([models.Upload], safe=True)


@migration(4, "recordings remember where they came from")
def _recording_source(db, migrator):
    from playhouse.migrate import migrate as run

    if not column_exists(db, "recording", "source_ref"):
        run(migrator.add_column("recording", "source_ref", models.Recording.source_ref))
        run(migrator.add_index("recording", ("source_ref",), unique=True))


@migration(5, "migration runs and journal; candidate notes and documents")
def _migration_journal(db, migrator):
    db.create_tables([models.CandidateNote, models.CandidateDocument, models.MigrationRun, models.MigrationItem], safe=True)


@migration(11, "candidate portal: sharing with candidates, feedback, invites, erasure requests, legal hold; access reviews")
def _candidate_portal(db, migrator):
    from playhouse.migrate import migrate as run

    db.create_tables([models.PortalInvite, models.ErasureRequest, models.AccessReview], safe=True)
    for table, column, field in (("recording", "shared_with_candidate", models.Recording.shared_with_candidate),
                                 ("candidate", "legal_hold", models.Candidate.legal_hold),
                                 ("interview", "candidate_feedback", models.Interview.candidate_feedback)):
        if not column_exists(db, table, column):
            run(migrator.add_column(table, column, field))


@migration(8, "backup runs")
def _backup_runs(db, migrator):
    db.create_tables([models.BackupRun], safe=True)


@migration(9, "talent pool: tag synonyms, saved searches, transcript full-text index")
def _talent_pool(db, migrator):
    from playhouse.migrate import migrate as run

    db.create_tables([models.TagSynonym, models.SavedSearch, models.TranscriptSegment], safe=True)
    if not column_exists(db, "candidate_tag", "recording_id"):
        run(migrator.add_column("candidate_tag", "recording_id", models.CandidateTag.recording))
    # Tag queries read (tag, score) ranges and come back with candidate ids: one covering index.
    db.execute_sql("CREATE INDEX IF NOT EXISTS candidate_tag_tag_score ON candidate_tag (tag_id, score, candidate_id)")
    db.execute_sql(CANDIDATE_TAG_PROBE_INDEX)
    from .pool import fulltext

    fulltext.backend_for(db).create_index(db)


CANDIDATE_TAG_PROBE_INDEX = "CREATE INDEX IF NOT EXISTS candidate_tag_tag_candidate ON candidate_tag (tag_id, candidate_id, score)"
"""A search probes candidates for a tag, with its score (pool/plan.py), from this index alone: a
tag's entries lie together, so the probes of a search stay in a few pages (on PostgreSQL 1.1 us a
probe against 1.75 with (candidate_id, tag_id, score)), and in candidate order, so a walk reads a
tag's candidates newest first."""


@migration(12, "talent pool: candidate tags probed with their score from the index")
def _candidate_tag_probe_index(db, migrator):
    # Replaces (candidate_id, tag_id): a probe of a term with a score threshold read every
    # matching row from the table.
    db.execute_sql(CANDIDATE_TAG_PROBE_INDEX)
    db.execute_sql("DROP INDEX IF EXISTS candidate_tag_candidate_tag")
    if isinstance(db, pw.PostgresqlDatabase):
        # A search looks its listed candidates up by id and keeps those of the user's
        # organisation: from the index alone with the organisation in it (on the benchmark pool,
        # 3,144 look-ups in 2 ms instead of 3). SQLite's organisation index holds the rowid already.
        db.execute_sql("CREATE INDEX IF NOT EXISTS candidate_id_organisation ON candidate (id) INCLUDE (organisation_id)")


CANDIDATE_TAG_REDUNDANT_INDEXES = ("candidate_tag_tag_id", "candidate_tag_recording")
"""(tag_id) is the first column of both (tag, score, candidate) and (tag, candidate, score), which
serve every look-up by tag, the deletion of a tag's rows included; candidate_tag_recording
repeats the model's own candidate_tag_recording_id. On a pool of a million candidate tags each
is 20-30 MB and one more B-tree every tagging writes to."""


@migration(13, "talent pool: candidate tags lose two indexes the others cover")
def _candidate_tag_redundant_indexes(db, migrator):
    for name in CANDIDATE_TAG_REDUNDANT_INDEXES:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")


@migration(14, "talent pool: a change log of candidate tags, for the search's in-memory index")
def _candidate_tag_changes(db, migrator):
    from .pool import changes

    changes.install(db)


@migration(7, "first sign-in links for accounts without a password")
def _password_setup_tokens(db, migrator):
    db.create_tables([models.PasswordSetupToken], safe=True)


@migration(6, "review comments and ratings, cue feedback, calibrations, interview consent")
def _review(db, migrator):
    db.create_tables([models.ReviewComment, models.CueFeedback, models.Calibration, models.InterviewConsent], safe=True)


def _migrator_for(db: pw.Database):
    if isinstance(db, pw.PostgresqlDatabase):
        return PostgresqlMigrator(db)
    return SqliteMigrator(db)


def applied_versions(db: pw.Database) -> set[int]:
    if not db.table_exists("schema_version"):
        return set()
    return {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}


def pending(db: pw.Database) -> list[tuple[int, str]]:
    done = applied_versions(db)
    return [(v, n) for v, n, _ in sorted(MIGRATIONS) if v not in done]


def migrate(db: pw.Database) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    applied = []
    with db.connection_context():
        is_pg = isinstance(db, pw.PostgresqlDatabase)
        with db.atomic():
            if is_pg:
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            else:
                # Take SQLite's write lock now so two starters cannot interleave.
                db.execute_sql("CREATE TABLE IF NOT EXISTS schema_lock (id INTEGER)")
                db.execute_sql("DELETE FROM schema_lock")
            done = applied_versions(db)
            migrator = _migrator_for(db)
            for version, name, func in sorted(MIGRATIONS):
                if version in done:
                    continue
                func(db, migrator)
                models.SchemaVersion.create(version=version, name=name)
                applied.append(version)
    return applied
