"""The JSON Schema of each report schema version, shipped in the package (schema/report-<v>.json).

Integrations validate reports they fetch against it; the tests validate real reports with it, so
the schema, docs/report.md and what `report.assemble` writes cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .report import REPORT_SCHEMA_VERSION

SCHEMA_DIR = Path(__file__).parent / "schema"


def path(version: str = REPORT_SCHEMA_VERSION) -> Path:
    return SCHEMA_DIR / f"report-{version}.json"


@cache
def load(version: str = REPORT_SCHEMA_VERSION) -> dict:
    try:
        return json.loads(path(version).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookupError(f"no JSON Schema shipped for report schema version {version}") from None
