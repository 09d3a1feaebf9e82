"""A real Prometheus scrapes a running TalentReel (gunicorn, two workers): playback requests and a
player beacon show up in Prometheus' query API, summed over both workers; a screenshot of the query
results is kept for the operators' guide (test-artifacts/, copied to docs/img/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from argon2 import PasswordHasher

from conftest import FIXTURES, PASSWORD, REDIS_SERVER, ROOT, csrf_token_from
from talentreel.server import jobs, models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.media import make_pictures, process_recording

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts"
MEDIA_REQUESTS = 24
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, OSError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def settings(settings):
    settings["redis_url"] = f"{REDIS_SERVER}/9"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


@pytest.fixture
def instance(app, db, make_user, monkeypatch, settings):
    """A data directory with an HR user and a ready recording, for the web server to serve."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    worker_base.set_app(app)
    hr = make_user("metrics_hr", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Chen Jie")
    recording = ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "interview.mp4",
                            candidate=candidate, original_name="interview.mp4", actor=hr)
    process_recording(recording.id)
    make_pictures(recording.id)
    assert m.Recording.get_by_id(recording.id).state == "ready"
    db.close()
    return hr, recording


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def web(instance, settings, tmp_path):
    port = free_port()
    env = dict(os.environ, TALENTREEL_DATA_DIR=settings["data_dir"], TALENTREEL_DATABASE_URL=settings["database_url"],
               TALENTREEL_REDIS_URL=settings["redis_url"], TALENTREEL_LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "web.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "talentreel.server.cli", "web", "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(base + "/-/health", timeout=2).ok, 60, "talentreel web")
        yield base, process
    finally:
        _stop(process)
        log.close()
        print((tmp_path / "web.log").read_text()[-3000:])


@pytest.fixture
def prometheus(prometheus_executables, web, tmp_path):
    base, _ = web
    port = free_port()
    config = tmp_path / "prometheus.yml"
    shutil.copy(ROOT / "monitoring" / "alerts.yml", tmp_path / "alerts.yml")
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: talentreel\n    static_configs: [{{targets: ['{base.removeprefix('http://')}']}}]\n")
    log = open(tmp_path / "prometheus.log", "w")
    process = subprocess.Popen([prometheus_executables["prometheus"], f"--config.file={config}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url + "/-/ready", timeout=2).ok, 60, "prometheus ready")
        yield url
    finally:
        _stop(process)
        log.close()


def query(prom: str, expr: str) -> dict[str, float]:
    body = requests.get(prom + "/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in body["data"]["result"]}


def scalar(prom: str, expr: str) -> float | None:
    values = list(query(prom, expr).values())
    return values[0] if values else None


def test_prometheus_scrapes_live_playback_metrics(instance, web, prometheus, settings, chromium_executable):
    hr, recording = instance
    base, _ = web
    browser = requests.Session()
    token_form = csrf_token_from(browser.get(base + "/login").text)
    assert browser.post(base + "/login", data={"username": hr.username, "password": PASSWORD, "csrf_token": token_form},
                        allow_redirects=False).status_code == 302
    page = browser.get(f"{base}/recordings/{recording.id}").text
    token = re.search(r'data-token="([^"]+)"', page).group(1)

    # Media requests on fresh connections, several at once, so both gunicorn workers serve some.
    def fetch(i):
        r = requests.get(f"{base}/media/{token}/video.mp4", cookies=browser.cookies,
                         headers={"Range": f"bytes={i * 1000}-{i * 1000 + 65535}", "Connection": "close"}, timeout=30)
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, range(MEDIA_REQUESTS))) == {206}
    beacon = base + "/-/beacon/playback"
    assert browser.post(beacon, json={"event": "started", "startup_seconds": 0.8, "token": token}).status_code == 204
    assert browser.post(beacon, json={"event": "error", "code": 2, "token": token}).status_code == 204
    assert browser.post(beacon, data=b"garbage", headers={"Content-Type": "application/json"}).status_code == 400

    # Each worker wrote its own values; a scrape reaching either one must show the sum.
    metrics_dir = Path(settings["data_dir"], "run", "metrics")
    writers = {f.name.split("_")[-1] for f in metrics_dir.glob("histogram_*.db")}
    assert len(writers) >= 3, f"expected the arbiter and two workers to have written metrics, found {sorted(writers)}"

    ttfb = wait_for(lambda: scalar(prometheus, 'sum(talentreel_media_ttfb_seconds_count{file="video.mp4"})') == MEDIA_REQUESTS
                    and scalar(prometheus, 'sum(talentreel_playback_sessions_total{outcome="started"})') == 1, 60,
                    "Prometheus to scrape the playback figures")
    assert ttfb
    assert scalar(prometheus, "sum(talentreel_player_startup_seconds_count)") == 1
    assert scalar(prometheus, "sum(talentreel_player_startup_seconds_sum)") == 0.8
    assert scalar(prometheus, 'sum(talentreel_playback_errors_total{code="network"})') == 1
    assert scalar(prometheus, 'sum(talentreel_playback_beacons_rejected_total{reason="not_json"})') == 1
    # The ingest queued its media job, and that job its pictures job (both run above in-process
    # instead): Redis still holds the two.
    waiting = jobs.queue_depths(redis_lib.Redis.from_url(settings["redis_url"]))["media"]
    assert waiting == 2 and scalar(prometheus, 'talentreel_queue_depth{queue="media"}') == waiting
    assert scalar(prometheus, 'talentreel_monitoring_source_up{source="database"}') == 1
    assert scalar(prometheus, 'up{job="talentreel"}') == 1
    p95 = scalar(prometheus, 'histogram_quantile(0.95, sum by (le) (talentreel_media_ttfb_seconds_bucket{file="video.mp4"}))')
    assert p95 is not None and p95 > 0

    _screenshot(prometheus, chromium_executable)


def _screenshot(prometheus: str, chromium_executable) -> None:
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    panels = {
        "g0.expr": 'sum by (outcome) (talentreel_playback_sessions_total)',
        "g1.expr": 'sum by (file) (talentreel_media_ttfb_seconds_count)',
        "g2.expr": 'histogram_quantile(0.95, sum by (le) (talentreel_media_ttfb_seconds_bucket{file="video.mp4"}))',
        "g3.expr": 'sum(talentreel_player_startup_seconds_sum) / sum(talentreel_player_startup_seconds_count)',
        "g4.expr": 'sum by (code) (talentreel_playback_errors_total)',
    }
    params = {}
    for key, expr in panels.items():
        params[key] = expr
        params[key.replace("expr", "tab")] = "1"  # the table view
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(prometheus + "/graph?" + urlencode(params))
        page.wait_for_selector("text=video.mp4", timeout=30000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "prometheus-playback.png"), full_page=True)
        browser.close()
