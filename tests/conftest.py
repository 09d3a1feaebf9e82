"""Shared fixtures.

The database under test is chosen by TALENTREEL_TEST_DATABASE: `sqlite` (default, a fresh file per
test) or `postgres` (a database created once per run on TALENTREEL_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432, emptied between tests). CI runs the suite once with each.
"""

from __future__ import annotations

import logging
import os
import contextlib
import re
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TALENTREEL_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures"

TEST_DATABASE = os.environ.get("TALENTREEL_TEST_DATABASE", "sqlite")
POSTGRES_SERVER = os.environ.get("TALENTREEL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("TALENTREEL_TEST_REDIS", "redis://127.0.0.1:6379")

PASSWORD = "correct horse battery"


def _pg_admin():
    import psycopg2

    conn = psycopg2.connect(POSTGRES_SERVER + "/postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_url():
    """A scratch PostgreSQL database for this test run, dropped at the end."""
    name = f"talentreel_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        conn = _pg_admin()
    except Exception as exc:  # pragma: no cover - reported, not hidden
        pytest.fail(f"PostgreSQL at {POSTGRES_SERVER} is not reachable: {exc}")
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield f"{POSTGRES_SERVER}/{name}"
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


@pytest.fixture
def database_url(request, tmp_path):
    if TEST_DATABASE == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'data' / 'talentreel.db'}"


def _empty_postgres(url: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_version', 'schema_lock')")
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    conn.close()


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(data_dir, database_url):
    """Setting overrides for create_app; tests extend this dict before asking for `app`."""
    return {"data_dir": str(data_dir), "database_url": database_url, "log_level": "WARNING"}


@pytest.fixture
def app(settings):
    from talentreel.server import create_app

    app = create_app(dict(settings))
    app.config["TESTING"] = True
    db = app.extensions["talentreel"].database
    yield app
    if not db.is_closed():
        db.close()
    if hasattr(db, "close_all"):
        db.close_all()


@pytest.fixture
def db(app):
    """The database, for the test body's own queries. No app context is pushed on purpose: one
    left open would be shared by the test client's requests, and with it `g`."""
    database = app.extensions["talentreel"].database
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(db):
    """make_user("alice", roles=("hr",), departments=(dept,)) -> models.User with PASSWORD."""
    from talentreel.server.accounts import create_user

    def make(username=None, roles=("hr",), **kwargs):
        username = username or f"user{uuid.uuid4().hex[:8]}"
        return create_user(username, PASSWORD, roles, **kwargs)

    return make


@pytest.fixture(scope="session")
def s3_endpoint():
    """URL of a moto S3 server in this process, on a free loopback port, for the whole run."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one access-log line per request would drown the output
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    werkzeug_log.setLevel(level)


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh bucket per test, so tests never see each other's objects."""
    name = f"talentreel-test-{uuid.uuid4().hex[:12]}"
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=name)
    return name


CHROMIUM = Path(os.environ.get("TALENTREEL_TEST_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def chromium_executable():
    """Debian's Chromium for browser tests. Installed from Debian's packages when missing and the
    tests run as root (a fresh CI machine); otherwise a clear failure, never a silent skip."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False, capture_output=True)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) or point TALENTREEL_TEST_CHROMIUM at one")
    return CHROMIUM


@pytest.fixture(scope="session")
def prometheus_executables():
    """Debian's prometheus and promtool (package `prometheus`), installed like Chromium above when
    missing on a CI machine run as root; otherwise a clear failure, never a silent skip."""
    wanted = {"prometheus": shutil.which("prometheus"), "promtool": shutil.which("promtool")}
    if not all(wanted.values()) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "prometheus"], env=env, check=False, capture_output=True)
        wanted = {"prometheus": shutil.which("prometheus"), "promtool": shutil.which("promtool")}
    missing = [name for name, path in wanted.items() if not path]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's prometheus package (apt-get install prometheus)")
    return wanted


@contextlib.contextmanager
def recorded_sql(database):
    """The SQL statements `database` (a peewee database or its proxy) runs inside the block."""
    target = database.obj if hasattr(database, "obj") else database
    statements: list[str] = []
    original = target.execute_sql

    def spy(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    target.execute_sql = spy
    try:
        yield statements
    finally:
        target.execute_sql = original


class JobTimeout(Exception):
    """What RQ's job timeout raises in a work horse's main thread (from its SIGALRM handler)."""


@contextlib.contextmanager
def job_timeout_after(seconds: float):
    """Raise JobTimeout in this thread after `seconds`, as RQ ends a job that runs too long."""
    def alarm(signum, frame):
        raise JobTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def login(client, db):
    """login(user) signs the test client in through the real form."""

    def do(user, password=PASSWORD, expect_ok=True):
        page = client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        response = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
        if expect_ok:
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do
