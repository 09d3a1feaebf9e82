"""`talentreel migrate` as an admin uses it: real processes, exit codes, JSON and text output; and
the migration job on the `migration` queue through a real (embedded) Redis and worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import SHARED

from talentreel.server import embedded
from talentreel.server import models as m
from talentreel.server.plugins import BUILTIN_PLUGINS

SAMPLE = SHARED / "legacy-export" / "sample"
PLUGIN = "talentreel.migrators.legacy_export"
# Until the lead registers migrate_cmds in server/cli/__init__.py, import it before running the CLI.
CLI = "import talentreel.server.cli.migrate_cmds; from talentreel.server.cli import main; main()"


@pytest.fixture
def cli_env(database_url):
    env = {"TALENTREEL_DATABASE_URL": database_url, "TALENTREEL_LOG_LEVEL": "WARNING"}
    if PLUGIN not in BUILTIN_PLUGINS:
        env["TALENTREEL_PLUGINS"] = PLUGIN
    return env


def talentreel(*args, data_dir, env, check=True):
    result = subprocess.run([sys.executable, "-c", CLI, "--data", str(data_dir), *args], capture_output=True, text=True,
                            env=dict(os.environ, **env), timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"talentreel {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def test_dry_run_run_rerun_show_rollback(data_dir, cli_env):
    dry = json.loads(talentreel("migrate", "legacy-export", str(SAMPLE), "--dry-run", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert dry["run"]["dry_run"] and dry["entities"]["interviews"]["new"] == 7
    assert json.loads(talentreel("migrate", "list", "--json", data_dir=data_dir, env=cli_env).stdout) == []

    text = talentreel("migrate", "legacy-export", str(SAMPLE), data_dir=data_dir, env=cli_env).stdout
    assert "interview I5901: video file missing" in text and "interview I5004: video unreadable" in text
    assert "candidate C2001 -> C1001 (phone+name)" in text
    assert "media: 7 new recording(s) queued for processing (4 remux, 3 transcode)" in text
    assert "playback check: 3/3 decoded end to end" in text

    again = json.loads(talentreel("migrate", "legacy-export", str(SAMPLE), "--inline", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert again["totals"]["new"] == 0 and again["run"]["id"] == 2

    runs = json.loads(talentreel("migrate", "list", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert [(r["id"], r["state"], r["new"]) for r in runs] == [(1, "done", 51), (2, "done", 0)]
    shown = json.loads(talentreel("migrate", "show", "1", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert shown["entities"]["candidates"]["new"] == 6
    verified = talentreel("migrate", "verify", "1", "--sample", "2", data_dir=data_dir, env=cli_env).stdout
    assert verified.startswith("playback check of run 1: 2/2 decoded end to end")

    refused = talentreel("migrate", "rollback", "1", data_dir=data_dir, env=cli_env, check=False)
    assert refused.returncode == 0  # run 2 migrated nothing, so run 1 may go first
    gone = json.loads(talentreel("migrate", "rollback", "2", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert gone["deleted"] == {}


def test_errors_are_one_line(data_dir, cli_env, tmp_path):
    unknown = talentreel("migrate", "acme-hr", str(SAMPLE), data_dir=data_dir, env=cli_env, check=False)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: no migrator of kind 'acme-hr' (available: legacy-export, opencats)"
    missing = talentreel("migrate", "legacy-export", str(tmp_path / "nowhere"), data_dir=data_dir, env=cli_env, check=False)
    assert missing.returncode == 2 and "not a folder" in missing.stderr
    bad_rule = talentreel("migrate", "legacy-export", str(SAMPLE), "--dedup", "phone+shoe", data_dir=data_dir, env=cli_env, check=False)
    assert bad_rule.returncode == 2 and "keys are phone, email, name" in bad_rule.stderr
    no_run = talentreel("migrate", "rollback", "42", data_dir=data_dir, env=cli_env, check=False)
    assert no_run.returncode == 2 and "no migration run 42" in no_run.stderr
    kinds = json.loads(talentreel("migrate", "kinds", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert [k["kind"] for k in kinds] == ["legacy-export", "opencats"]


@pytest.fixture
def redis_url(settings):
    from talentreel.server.config import load_settings

    server = embedded.EmbeddedRedis(load_settings(dict(settings))).start()
    settings["redis_url"] = server.url
    yield server.url
    server.stop()


@pytest.fixture
def app_with_plugin(settings):
    from talentreel.server import create_app

    if PLUGIN not in BUILTIN_PLUGINS:
        settings["plugins"] = [PLUGIN]
    return create_app(dict(settings))


def test_a_queued_run_is_done_by_the_migration_worker(redis_url, app_with_plugin, data_dir, cli_env):
    from talentreel.workers.worker import run_worker

    env = dict(cli_env, TALENTREEL_REDIS_URL=redis_url)
    queued = json.loads(talentreel("migrate", "legacy-export", str(SAMPLE), "--queue", "--no-wait", "--json", data_dir=data_dir, env=env).stdout)
    assert queued["state"] == "queued"
    database = app_with_plugin.extensions["talentreel"].database
    run_worker(app_with_plugin, ["migration"], burst=True)
    with database.connection_context():
        run = m.MigrationRun.get_by_id(queued["run_id"])
        assert run.state == "done", run.error
        item = m.WorkItem.get_by_id(queued["work_item"])
        assert item.state == "done" and item.result["totals"]["new"] == 51
        assert m.WorkItem.select().where(m.WorkItem.queue == "media").count() == 7
    shown = talentreel("migrate", "show", str(run.id), data_dir=data_dir, env=env).stdout
    assert "state: done" in shown
