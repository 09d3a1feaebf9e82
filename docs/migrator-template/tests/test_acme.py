"""The template's own tests, run by the partner: `pip install -e '.[test]' && pytest`. They use
TalentReel's test kit (talentreel.migrators.testkit) on the sample export in ../sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from talentreel.migrators import testkit
from talentreel_acme.migrator import AcmeReader

SAMPLE = str(Path(__file__).resolve().parent.parent / "sample")


@pytest.fixture
def state(tmp_path):
    from talentreel.server import create_app

    app = create_app({"data_dir": str(tmp_path / "data"), "database_url": f"sqlite:///{tmp_path / 'data' / 'talentreel.db'}",
                      "log_level": "WARNING"})
    return app.extensions["talentreel"]


def test_reader_gives_valid_deterministic_records():
    records = testkit.check_reader(AcmeReader, SAMPLE)
    assert any(type(rec).__name__ == "Candidate" for rec in records)


def test_dry_run_writes_nothing_and_a_second_run_changes_nothing(state):
    with state.database.connection_context():
        testkit.check_dry_run(state, "acme-hr", SAMPLE)
        first, second = testkit.check_idempotent(state, "acme-hr", SAMPLE)
        assert first["accounted"]
