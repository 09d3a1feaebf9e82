"""The browser's tus client (server/ingest/static/upload.js) in a real headless Chromium: it uploads
in chunks through the CSRF-protected /uploads/ path, survives a connection reset mid-upload, and
resumes an interrupted upload on a later call instead of starting over.

Needs Debian's Chromium at /usr/bin/chromium, like test_browser.py; it fails rather than skips.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import PASSWORD
from werkzeug.serving import make_server

from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.ingest import init_app, register_completion_handler

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("TALENTREEL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MiB = 1024 * 1024

# Runs in the page: builds a deterministic file, uploads it with upload.js and reports back.
UPLOAD_SCRIPT = """
async ({candidateId, size, stopAfter}) => {
  const { uploadRecording } = await import("/uploads/static/upload.js");
  const bytes = new Uint8Array(size);
  let seed = 12345;
  for (let i = 0; i < size; i++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; bytes[i] = seed >>> 24; }
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  const file = new File([bytes], "面试 round 1.webm", { type: "video/webm", lastModified: 1700000000000 });
  const csrfToken = document.querySelector('input[name="csrf_token"]').value;
  const controller = new AbortController();
  const seen = { progress: [], retries: 0, sha256 };
  try {
    const result = await uploadRecording(file, {
      endpoint: "/uploads/", csrfToken, chunkSize: 1024 * 1024, retryDelays: [50, 100, 200, 400],
      metadata: { candidate_id: String(candidateId) }, signal: controller.signal,
      onProgress: (sent, total) => {
        seen.progress.push(sent);
        if (stopAfter && sent >= stopAfter) controller.abort();
      },
      onRetry: () => { seen.retries += 1; },
    });
    return { ...seen, recordingId: result.recordingId };
  } catch (error) {
    return { ...seen, error: error.name + ": " + error.message };
  }
}
"""


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) or point TALENTREEL_TEST_CHROMIUM at one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def received(app):
    init_app(app)
    calls = []

    def handler(upload, path):
        calls.append({"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "filename": upload.filename})
        return m.Recording.create(candidate=upload.candidate_id, original_name=upload.filename).id

    register_completion_handler(app, handler)
    return calls


def expected_bytes(size: int) -> bytes:
    out = bytearray(size)
    seed = 12345
    for i in range(size):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = seed >> 24
    return bytes(out)


def test_browser_upload_survives_a_reset_and_resumes(chromium, live_server, received, db, make_user, monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    user = make_user("hana", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Emily Carter")
    size = 4 * MiB + 321

    context = chromium.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server + "/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation(url=live_server + "/"):
        page.click("main form button[type=submit]")

    requests = []
    resets = {"left": 1}

    def network(route, request):
        requests.append(request.method)
        # The third PATCH's connection resets: the client must wait, ask HEAD and carry on.
        if request.method == "PATCH" and requests.count("PATCH") == 3 and resets["left"]:
            resets["left"] -= 1
            return route.abort("connectionreset")
        return route.continue_()

    page.route("**/uploads/**", network)

    # First call: stopped by the user after 2 MiB; the upload stays on the server.
    first = page.evaluate(UPLOAD_SCRIPT, {"candidateId": candidate.id, "size": size, "stopAfter": 2 * MiB})
    assert first["error"].startswith("AbortError"), first
    assert requests.count("POST") == 1 and received == []

    # Second call, same file: resumes (no second POST), survives the reset, completes.
    second = page.evaluate(UPLOAD_SCRIPT, {"candidateId": candidate.id, "size": size, "stopAfter": 0})
    assert "error" not in second, second
    assert requests.count("POST") == 1, requests
    assert second["progress"][0] >= MiB, "resumed from the server's offset, not from zero"
    assert second["retries"] >= 1 and resets["left"] == 0
    assert second["progress"][-1] == size
    assert second["recordingId"] == m.Recording.get().id
    assert second["sha256"] == hashlib.sha256(expected_bytes(size)).hexdigest()  # the page made the file we think
    assert received == [{"sha256": second["sha256"], "filename": "面试 round 1.webm"}]
    assert errors == []
    context.close()
