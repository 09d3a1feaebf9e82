"""The partner template in docs/migrator-template/: installed like a partner's package (entry
point), it loads, passes the test kit on its sample export, and its report says what a partner's
customer would need to hear about the sample's trouble rows."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from talentreel.migrators import testkit

TEMPLATE = Path(__file__).resolve().parent.parent / "docs" / "migrator-template"
SAMPLE = str(TEMPLATE / "sample")


@pytest.fixture(scope="module")
def template_installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(TEMPLATE)], check=True)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [n for n in sys.modules if n.startswith("talentreel_acme")]:
        sys.modules.pop(name)


@pytest.fixture
def state(template_installed, settings):
    from talentreel.server import create_app

    app = create_app(dict(settings))
    yield app.extensions["talentreel"]
    app.extensions["talentreel"].database.close()


def test_the_template_is_found_through_its_entry_point(state):
    from talentreel.migrators.reader import migrators

    assert migrators(state.plugins)["acme-hr"]["reader"] == "talentreel_acme.migrator:AcmeReader"


def test_the_template_passes_the_test_kit(state):
    from talentreel_acme.migrator import AcmeReader

    records = testkit.check_reader(AcmeReader, SAMPLE)
    assert sum(type(rec).__name__ == "Candidate" for rec in records) == 3
    with state.database.connection_context():
        testkit.check_dry_run(state, "acme-hr", SAMPLE)
        first, second = testkit.check_idempotent(state, "acme-hr", SAMPLE)
    assert first["accounted"]
    report = json_text(first)
    for expected in ("unknown role", "missing legacy id", "unreadable date"):
        assert expected in report, f"the report does not say {expected!r}"


def json_text(report: dict) -> str:
    import json

    return json.dumps(report, ensure_ascii=False)
