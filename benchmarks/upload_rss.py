"""Server memory during a 2 GB upload through the tus endpoint.

The server is `talentreel web` (gunicorn, gthread workers) on loopback against the instance's data
directory. The client streams 2 GiB of random bytes (1 MiB blocks, generated as they are sent) in
one PATCH to /api/v1/uploads/<token> with a bearer token. A sampler reads the RSS of every gunicorn
worker process with psutil every 10 ms; the figures are the sum over the workers (and the one
worker that took the upload). The last byte triggers the completion, which probes the file: random
bytes are not a recording, so it is refused with 422 -- expected, and inside the measured window.

Idle is measured after warm-up: small uploads (refused the same way) are sent until every worker
has served one (has loaded the media probing libraries), so that one-time imports do not count as
upload memory. The RSS right after start-up is reported too.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time

import psutil

import common
from common import MiB, log

UPLOAD_BYTES = 2 * 1024**3
QUICK_UPLOAD_BYTES = 512 * MiB
TARGET_GROWTH_BYTES = 50 * 1000 * 1000
"""The issue's bound: peak RSS <= idle RSS + 50 MB."""

WARMUP_BYTES = 1 * MiB
SAMPLE_SECONDS = 0.01


def _rss(pids: list[int]) -> dict[int, int]:
    values = {}
    for pid in pids:
        try:
            values[pid] = psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            values[pid] = 0
    return values


def _loaded_media_libraries(pid: int) -> bool:
    try:
        return any("libavformat" in m.path for m in psutil.Process(pid).memory_maps())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


class Sampler(threading.Thread):
    def __init__(self, pids: list[int]):
        super().__init__(daemon=True, name="rss-sampler")
        self.pids = pids
        self.peak_sum = 0
        self.peak = {pid: 0 for pid in pids}
        self.samples = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self._take()
            time.sleep(SAMPLE_SECONDS)

    def _take(self):
        values = _rss(self.pids)
        self.samples += 1
        self.peak_sum = max(self.peak_sum, sum(values.values()))
        for pid, value in values.items():
            self.peak[pid] = max(self.peak[pid], value)

    def stop(self):
        self._halt.set()
        self.join()
        self._take()


def _body(total: int):
    block = bytearray(os.urandom(MiB))
    sent, index = 0, 0
    while sent < total:
        block[:8] = index.to_bytes(8, "big")  # no two blocks alike
        piece = bytes(block[: min(MiB, total - sent)])
        yield piece
        sent += len(piece)
        index += 1


def _request(port: int, method: str, path: str, headers: dict, body=None, timeout: float = 600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _upload(port: int, instance: common.Instance, size: int) -> tuple[int, bytes, float]:
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {instance.api_token}"}
    meta = ("candidate_id " + base64.b64encode(str(instance.candidate.id).encode()).decode()
            + ",filename " + base64.b64encode(b"random.bin").decode())
    status, created, body = _request(port, "POST", "/api/v1/uploads/", {**headers, "Upload-Length": str(size), "Upload-Metadata": meta})
    if status != 201:
        raise RuntimeError(f"creating the upload answered {status}: {body[:300]!r}")
    location = created["Location"]
    started = time.perf_counter()
    status, _headers, body = _request(port, "PATCH", location, {
        **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0", "Content-Length": str(size),
    }, body=_body(size))
    return status, body, time.perf_counter() - started


def run(ctx: common.Context) -> dict:
    size = QUICK_UPLOAD_BYTES if ctx.quick else UPLOAD_BYTES
    instance = ctx.instance
    port = common.free_port()
    workers = ctx.workers or 2
    with common.talentreel_web(instance, port, ctx.workdir / "talentreel-web-upload.log", workers=workers, threads=ctx.threads) as server:
        pids = [p.pid for p in common.worker_processes(server.pid)]
        if len(pids) != workers:
            raise RuntimeError(f"expected {workers} gunicorn workers, found {len(pids)}")
        time.sleep(1)
        cold = _rss(pids)
        warmups = 0
        while not all(_loaded_media_libraries(pid) for pid in pids) and warmups < 30:
            status, body, _seconds = _upload(port, instance, WARMUP_BYTES)
            if status != 422:
                raise RuntimeError(f"warm-up upload answered {status}, expected 422: {body[:300]!r}")
            warmups += 1
        warmed = all(_loaded_media_libraries(pid) for pid in pids)
        time.sleep(1)
        idle = _rss(pids)
        log(f"upload benchmark: {len(pids)} workers, idle RSS {sum(idle.values()) / 1e6:.1f} MB after {warmups} warm-up uploads "
            f"(at start-up {sum(cold.values()) / 1e6:.1f} MB); sending {size / MiB:.0f} MiB")
        sampler = Sampler(pids)
        sampler.start()
        try:
            status, body, seconds = _upload(port, instance, size)
        finally:
            sampler.stop()
    try:
        message = json.loads(body).get("error", "")
    except ValueError:
        message = body[:200].decode(errors="replace")
    # The worker that took the upload is the one whose RSS peaked highest above its idle.
    busy = max(pids, key=lambda pid: sampler.peak[pid] - idle[pid])
    growth = sampler.peak_sum - sum(idle.values())
    results = {
        "upload_bytes": size, "workers": len(pids), "warmup_uploads": warmups, "all_workers_warmed": warmed,
        "startup_rss_sum": sum(cold.values()), "idle_rss_sum": sum(idle.values()), "peak_rss_sum": sampler.peak_sum,
        "growth_sum": growth, "busy_worker_idle": idle[busy], "busy_worker_peak": sampler.peak[busy],
        "busy_worker_growth": sampler.peak[busy] - idle[busy], "samples": sampler.samples,
        "status": status, "answer": message, "seconds": seconds, "mb_per_s": size / seconds / 1e6,
        "database": instance.database_url.split(":")[0],
        "server": f"talentreel web --workers {workers} (gunicorn gthread, {ctx.threads or 4} threads)",
    }
    log(f"  status {status} ({message[:80]}), {results['mb_per_s']:.0f} MB/s; peak RSS {sampler.peak_sum / 1e6:.1f} MB, "
        f"growth {growth / 1e6:.1f} MB (worker that took it: {results['busy_worker_growth'] / 1e6:.1f} MB)")
    results["targets"] = [{"target": "peak RSS during the upload <= idle RSS + 50 MB",
                           "value": f"+{growth / 1e6:.1f} MB", "met": growth <= TARGET_GROWTH_BYTES}]
    return results


def report(results: dict) -> list[str]:
    mb = 1e6
    return [
        f"server: {results['server']}, {results['database']}; upload of {results['upload_bytes'] / MiB:.0f} MiB of random bytes in one PATCH "
        f"to /api/v1/uploads/ (bearer token), answered {results['status']} ({results['answer']}) after {results['seconds']:.1f} s "
        f"({results['mb_per_s']:.0f} MB/s); {results['samples']} RSS samples",
        "",
        "| RSS (sum of gunicorn workers) | MB |", "|---|---|",
        f"| at start-up | {results['startup_rss_sum'] / mb:.1f} |",
        f"| idle, after {results['warmup_uploads']} warm-up uploads | {results['idle_rss_sum'] / mb:.1f} |",
        f"| peak during the upload and its completion | {results['peak_rss_sum'] / mb:.1f} |",
        f"| growth (peak - idle) | {results['growth_sum'] / mb:.1f} |",
        f"| growth of the worker that took the upload | {results['busy_worker_growth'] / mb:.1f} |",
        f"| peak - RSS at start-up (includes the one-time load of the media probing libraries) | "
        f"{(results['peak_rss_sum'] - results['startup_rss_sum']) / mb:.1f} |",
    ]


if __name__ == "__main__":
    from run import main as run_main

    run_main(["--only", "upload"])
