"""The alert rules pass their promtool unit tests, and the dashboard and rules only use metrics
that TalentReel really exposes."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
import redis as redis_lib
import yaml

from conftest import REDIS_SERVER, ROOT
from talentreel.monitoring import backup, jobstats
from talentreel.server import jobs

MONITORING = ROOT / "monitoring"
TEST_FILES = ("alerts_test.yml", "alerts_backup_test.yml")


def rule_tests() -> list[dict]:
    return [t for name in TEST_FILES for case in yaml.safe_load((MONITORING / name).read_text())["tests"]
            for t in case.get("alert_rule_test", [])]


def test_alert_rules_pass_promtool_unit_tests(prometheus_executables):
    result = subprocess.run([prometheus_executables["promtool"], "test", "rules", *TEST_FILES],
                            cwd=MONITORING, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_asked_for_has_a_rule_and_a_test():
    rules = {r["alert"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    tested = {t["alertname"] for t in rule_tests()}
    assert rules == tested
    firing = {t["alertname"] for t in rule_tests() if t.get("exp_alerts")}
    assert firing == rules, f"rules never shown firing: {rules - firing}"


@pytest.fixture
def exposed_names(settings):
    """Metric family names of a scrape in which every kind of figure has a value."""
    from prometheus_client.parser import text_string_to_metric_families

    from talentreel.server import create_app

    settings["redis_url"] = f"{REDIS_SERVER}/9"
    redis_lib.Redis.from_url(settings["redis_url"]).flushdb()
    app = create_app(dict(settings))
    conn = jobs.connect(app.extensions["talentreel"].settings)
    jobstats.record_job(conn, "media", 1.0, "done")
    jobstats.record_analysis_rtf(conn, 1.0, 2.0)
    backup.record_backup_success(app, dt.datetime(2026, 1, 1))
    text = app.test_client().get("/metrics").get_data(as_text=True)
    conn.flushdb()
    app.extensions["talentreel"].database.close()
    names = set()
    for family in text_string_to_metric_families(text):
        # A labelled family with no child yet has no samples: its series names follow from its type.
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
        names |= {s.name for s in family.samples} | {family.name + suffix for suffix in suffixes}
    return names


def _referenced(text: str) -> set[str]:
    return set(re.findall(r"\btalentreel_[a-z_]+\b", text)) - {"talentreel_work", "talentreel_backup"}


def test_dashboard_and_rules_use_only_exposed_metrics(exposed_names):
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    used = _referenced(exprs)
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    used |= _referenced(" ".join(r["expr"] for g in rules["groups"] for r in g["rules"]))
    assert used, "no metric referenced"
    unknown = sorted(n for n in used if n not in exposed_names)
    assert not unknown, f"referenced but never exposed: {unknown}"


def test_dashboard_has_a_panel_for_each_figure_the_issue_names():
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for name in ("talentreel_media_ttfb_seconds", "talentreel_player_startup_seconds", "talentreel_playback_errors_total",
                 "talentreel_playback_sessions_total", "talentreel_job_duration_seconds", "talentreel_job_attempts_total",
                 "talentreel_queue_depth", "talentreel_analysis_realtime_factor", "talentreel_storage_bytes",
                 "talentreel_migration_progress_ratio", "talentreel_backup_last_success_timestamp_seconds",
                 "talentreel_disk_free_bytes"):
        assert name in exprs, name
