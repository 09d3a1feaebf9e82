"""kill -9 at any point of a migration, then a rerun: the end state is exactly that of one
uninterrupted run (compared as testkit.canonical_dump, which names rows by what they are, not by
their ids). Each run is a real child process that SIGKILLs itself at the chosen point."""

from __future__ import annotations

import shutil

import pytest
from conftest import SHARED, TEST_DATABASE, _empty_postgres

from talentreel.migrators import testkit
from talentreel.server.plugins import BUILTIN_PLUGINS

SAMPLE = SHARED / "legacy-export" / "sample"
PLUGIN = "talentreel.migrators.legacy_export"


@pytest.fixture
def child_settings(data_dir, database_url):
    settings = {"data_dir": str(data_dir), "database_url": database_url, "log_level": "WARNING"}
    if PLUGIN not in BUILTIN_PLUGINS:
        settings["plugins"] = [PLUGIN]
    return settings


@pytest.fixture
def reset(data_dir, database_url):
    def empty():
        if TEST_DATABASE == "postgres":
            _empty_postgres(database_url)
        else:
            for name in ("talentreel.db", "talentreel.db-wal", "talentreel.db-shm"):
                (data_dir / name).unlink(missing_ok=True)
        shutil.rmtree(data_dir / "objects", ignore_errors=True)

    return empty


def test_killed_anywhere_a_rerun_ends_as_one_clean_run(child_settings, reset):
    """Killed after 3 records (departments), right after a recording's ingest (row and object
    stored, no journal item), halfway through storing a recording, between a recording's journal
    commit and the queueing of its media job, after 40 more records, and during verification."""
    result = testkit.check_resume(child_settings, "legacy-export", str(SAMPLE), reset=reset, options={"playback_sample": 1}, kills=testkit.DEFAULT_KILLS)
    assert result["killed"] == list(testkit.DEFAULT_KILLS)  # every kill point was reached
    clean = result["clean"]
    assert len(clean["candidates"]) == 6 and len(clean["recordings"]) == 7
    assert len(clean["media_jobs"]) == 7 and len(clean["objects"]) == 7
    assert all(stored for _, stored, _ in clean["data_keys"])
    assert clean["runs"] == [["legacy-export", str(SAMPLE.resolve()), "done"]]
