"""A large upload through a real HTTP server keeps the server's memory flat.

The server runs in a thread of this process (werkzeug's make_server), the client streams the body
from a generator with http.client, and a sampler thread records the process's peak RSS. The bound
is functional, not a timing: reading the body whole, or buffering it anywhere, would add the
upload's size to the peak; streaming it in fixed blocks adds a few megabytes at most.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import threading
import time

import psutil
import pytest
from werkzeug.serving import make_server

from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.ingest import init_app, register_completion_handler

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
UPLOAD_BYTES = 300 * MiB
ALLOWED_GROWTH = 30 * MiB


class PeakRss:
    def __init__(self):
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)


def _body(total: int, digest):
    # One block, varied by its index so the file is not a repetition, streamed without holding more.
    block = bytearray(os.urandom(MiB))
    sent = 0
    index = 0
    while sent < total:
        block[:8] = index.to_bytes(8, "big")
        piece = bytes(block[: min(MiB, total - sent)])
        digest.update(piece)
        yield piece
        sent += len(piece)
        index += 1


def _request(port, method, path, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def test_a_300_mb_upload_keeps_server_memory_flat(app, db, make_user, live_server):
    init_app(app)
    received = {}

    def handler(upload, path):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(MiB), b""):
                digest.update(block)
        received["sha256"] = digest.hexdigest()
        return m.Recording.create(candidate=upload.candidate_id, size_bytes=upload.size_bytes).id

    register_completion_handler(app, handler)
    user = make_user("hana", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Emily Carter")
    token = create_api_token(user, "bench")[1]
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
    if not db.is_closed():
        db.close()

    meta = "candidate_id " + base64.b64encode(str(candidate.id).encode()).decode()
    created = _request(live_server, "POST", "/api/v1/uploads/", {**headers, "Upload-Length": str(UPLOAD_BYTES), "Upload-Metadata": meta})
    assert created.status == 201, created.status
    location = created.getheader("Location")
    # Warm up every code path once (imports, connection pools, first allocations) before measuring.
    warm = _request(live_server, "HEAD", location, headers)
    assert warm.status == 200

    sent = hashlib.sha256()
    idle = psutil.Process().memory_info().rss
    with PeakRss() as rss:
        response = _request(live_server, "PATCH", location, {
            **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
            "Content-Length": str(UPLOAD_BYTES),
        }, body=_body(UPLOAD_BYTES, sent))
    assert response.status == 204, response.status
    assert int(response.getheader("Upload-Offset")) == UPLOAD_BYTES
    assert received["sha256"] == sent.hexdigest()
    growth = rss.peak - idle
    assert growth < ALLOWED_GROWTH, f"peak RSS grew by {growth / MiB:.1f} MiB during a {UPLOAD_BYTES // MiB} MiB upload"
