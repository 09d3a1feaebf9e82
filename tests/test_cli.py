"""The `talentreel` command as an admin uses it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from conftest import FIXTURES



def talentreel(*args, data_dir, env=None, input=None, check=True):
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), *args],
                            capture_output=True, text=True, env=full_env, input=input, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"talentreel {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def cli_env(database_url):
    return {"TALENTREEL_DATABASE_URL": database_url}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_init_createuser_token(data_dir, cli_env):
    out = json.loads(talentreel("init", "--json", data_dir=data_dir, env=cli_env).stdout)
    assert out["schema_versions"][0] == 1
    created = talentreel("createuser", "ops", "--role", "it_admin", "--role", "hr", "--password-stdin", "--json",
                         data_dir=data_dir, env=cli_env, input="a long enough password\n")
    assert json.loads(created.stdout)["roles"] == ["hr", "it_admin"]
    token = json.loads(talentreel("token", "create", "ops", "--json", data_dir=data_dir, env=cli_env).stdout)["token"]
    assert token.startswith("trk_")
    short = talentreel("createuser", "ops2", "--password-stdin", data_dir=data_dir, env=cli_env, input="short\n", check=False)
    assert short.returncode == 2 and "password: at least 10 characters" in short.stderr


@pytest.mark.parametrize("env, message", [
    ({"TALENTREEL_PORT": "eighty"}, "error: setting 'port' from environment variable TALENTREEL_PORT: expected a whole number"),
    ({"TALENTREEL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}, "error: cannot reach the database at postgresql://postgres@127.0.0.1:1/nowhere"),
    ({"TALENTREEL_PLUGINS": "talentreel_missing_plugin"}, "error: plugin 'talentreel_missing_plugin' named in the 'plugins' setting is not installed"),
])
def test_startup_errors_are_one_line(data_dir, cli_env, env, message):
    result = talentreel("plugins", data_dir=data_dir, env=dict(cli_env, **env), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(message), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_redis_is_one_line(data_dir, cli_env):
    result = talentreel("worker", "--burst", data_dir=data_dir, env=dict(cli_env, TALENTREEL_REDIS_URL="redis://127.0.0.1:1/0"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: cannot reach Redis at redis://127.0.0.1:1/0: Error 111 connecting to 127.0.0.1:1. Connection refused."


def _login(base, username, password):
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token}, timeout=10)
    return session, response


@pytest.mark.slow
def test_up_serves_refuses_a_second_up_and_stops_cleanly(data_dir, cli_env):
    port = free_port()
    env = dict(os.environ, **cli_env)
    up = subprocess.Popen([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), "up", "--port", str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert up.poll() is None, up.stdout.read()
            assert time.monotonic() < deadline, "talentreel up did not serve the login page within 60 s"
            time.sleep(0.3)

        second = talentreel("up", "--port", str(free_port()), data_dir=data_dir, env=cli_env, check=False)
        assert second.returncode == 2 and "already running on data directory" in second.stderr

        demo = json.loads(talentreel("demo", "--json", data_dir=data_dir, env=cli_env).stdout)
        users = demo["users"]
        assert {u["role"] for u in users} == {"it_admin", "hr", "dept_head", "interviewer", "candidate"}
        for user in users:
            session, response = _login(base, user["username"], user["password"])
            assert response.status_code == 200 and "/login" not in response.url, f"{user['username']} could not sign in"
            assert session.get(f"{base}/", timeout=10).status_code == 200

        # The demo comes with a ready replay.
        session, _ = _login(base, "hr", next(u["password"] for u in users if u["username"] == "hr"))
        page = session.get(f"{base}/recordings/{demo['replay_recording_id']}", timeout=10).text
        assert "<video" in page

        # The worker of `up` serves CLI-enqueued work through the instance's embedded Redis.
        runtime = json.loads((data_dir / "run" / "instance.json").read_text())
        assert runtime["redis_url"].startswith("unix://")
        ingested = talentreel("ingest", str(FIXTURES / "interview_en" / "legacy_h264.flv"), "--candidate", "Li Lei",
                              "--email", "li.lei@example.com", "--wait", "--timeout", "120", "--json", data_dir=data_dir, env=cli_env)
        result = json.loads(ingested.stdout)
        assert result["state"] == "ready" and result["how"] == "remux", result
        refused = talentreel("ingest", str(FIXTURES / "interview_en" / "not_a_video.mp4"), "--candidate", "Li Lei",
                             data_dir=data_dir, env=cli_env, check=False)
        assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr
    finally:
        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = up.communicate(timeout=60)[0]
    assert up.returncode == 0, output
    assert not (data_dir / "run" / "instance.json").exists()
    assert not (data_dir / "run" / "redis.sock").exists()
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True).stdout.strip()
    assert leftovers == "", f"processes left behind: {leftovers}"


def test_audit_verify_finds_an_edited_row(data_dir, cli_env, database_url):
    talentreel("createuser", "auditor", "--password-stdin", data_dir=data_dir, env=cli_env, input="a long enough password\n")
    from talentreel.server import audit, db as dbmod, models as m

    database = dbmod.open_database(database_url)
    dbmod.database.initialize(database)
    with database.connection_context():
        for i in range(3):
            audit.record("candidate.view", object_type="candidate", object_id=i)
    ok = talentreel("audit", "verify", "--json", data_dir=data_dir, env=cli_env)
    assert json.loads(ok.stdout)["intact"] is True
    with database.connection_context():
        m.AuditEvent.update(actor_name="someone else").where(m.AuditEvent.id == 2).execute()
    bad = talentreel("audit", "verify", data_dir=data_dir, env=cli_env, check=False)
    assert bad.returncode == 1 and "event 2" in bad.stdout and "edited" in bad.stdout


def test_data_may_follow_the_command(tmp_path, cli_env):
    """`talentreel up --data DIR` (as the messages and docs write it) is `talentreel --data DIR up`."""
    data_dir = tmp_path / "after"
    result = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "init", "--json", "--data", str(data_dir)],
                            capture_output=True, text=True, env=dict(os.environ, **cli_env), timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert any(data_dir.iterdir())
    nested = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "keys", "status", "--data", str(data_dir), "--json"],
                            capture_output=True, text=True, env=dict(os.environ, **cli_env), timeout=120, cwd=tmp_path)
    assert nested.returncode == 0, nested.stderr
    assert not (tmp_path / "talentreel-data").exists()  # the default, had --data been ignored


def test_ingest_wait_without_a_running_instance_says_so_at_once(data_dir, cli_env):
    """Nothing would process the recording: --wait does not wait an hour for it. It stays
    stored, and its job recorded, for when the instance runs."""
    started = time.monotonic()
    result = talentreel("ingest", str(FIXTURES / "interview_en" / "legacy_h264.flv"), "--candidate", "Li Lei", "--wait", "--json",
                        data_dir=data_dir, env=dict(cli_env, TALENTREEL_REDIS_URL=""), check=False)
    assert result.returncode == 1 and time.monotonic() - started < 60
    assert json.loads(result.stdout)["state"] == "uploaded"
    assert "is stored, but nothing will process it yet" in result.stderr and "talentreel up --data" in result.stderr
