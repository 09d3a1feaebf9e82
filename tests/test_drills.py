"""Failure drills (issue 8): the real failure, made for real, and what the system does about it.

- the database goes away and comes back: clear 503s, then recovery without a restart;
- the disk fills during an upload: a clean error, nothing half-stored, the server keeps serving;
- a worker is killed mid-transcode: the job is retried, no ffmpeg is left, one valid output;
- Redis is flushed and restarted mid-run: the reconciler finishes all pending work, exactly once.

They run on PostgreSQL + Redis when TALENTREEL_TEST_DATABASE=postgres, on SQLite otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis as redis_lib
from argon2 import PasswordHasher

from conftest import FIXTURES, REDIS_SERVER, ROOT, TEST_DATABASE
from talentreel.server import jobs, models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.auth import passwords
from talentreel.server.recordings import ORIGINAL, object_key

INTERVIEW = FIXTURES / "interview_en" / "interview.mp4"
REDIS_DB = 9


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def wait_for(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the database goes away and comes back ------------------------------------------------------


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can be taken down (listener closed, every open
    connection cut) and brought back on the same port: the database "going away" as a network
    failure or a server restart does it, for an application that keeps running."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener = None
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        # shutdown first: close() alone leaves a thread blocked in accept() listening (Linux).
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._sockets = []


class SqliteFileGone:
    """The SQLite database "goes away" as when its volume is unmounted: the files are moved out and
    a directory stands in their place (so SQLite cannot quietly create a new, empty database)."""

    def __init__(self, path: Path):
        self.path = path
        self.aside = path.parent / "moved-away"

    def stop(self):
        self.aside.mkdir()
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                source.rename(self.aside / source.name)
        self.path.mkdir()

    def start(self):
        self.path.rmdir()
        for moved in self.aside.iterdir():
            moved.rename(self.path.parent / moved.name)
        self.aside.rmdir()


@pytest.fixture
def outage(settings, request):
    """(settings for the app, the switch that takes its database away and back)."""
    if TEST_DATABASE == "postgres":
        from urllib.parse import urlparse

        url = urlparse(settings["database_url"])
        proxy = TcpProxy((url.hostname, url.port or 5432)).start()
        settings["database_url"] = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
        yield settings, proxy
        proxy.stop()
    else:
        path = Path(settings["database_url"][len("sqlite:///"):])
        yield settings, SqliteFileGone(path)


def test_database_goes_away_and_comes_back(outage, app, make_user, db):
    settings, switch = outage
    client = app.test_client()
    hr = make_user("drill_hr", roles=("hr",))
    token = create_api_token(hr, "drill")[1]
    api = {"Authorization": f"Bearer {token}"}
    db.close()
    assert client.get("/-/health").status_code == 200
    assert client.get("/api/v1/candidates", headers=api).status_code == 200

    switch.stop()
    for _ in range(3):  # not one lucky request: every one is a clear 503, none hangs or is a 500
        health = client.get("/-/health")
        assert health.status_code == 503 and health.get_json()["status"] == 503
        listing = client.get("/api/v1/candidates", headers=api)
        assert listing.status_code == 503 and "database is unavailable" in listing.get_json()["error"]
        page = client.get("/login")
        assert page.status_code == 503 and "database is unavailable" in page.get_data(as_text=True)
    metrics = client.get("/metrics")  # the outage itself is reported, not a failed scrape
    assert metrics.status_code == 200 and b'talentreel_monitoring_source_up{source="database"} 0.0' in metrics.data

    switch.start()
    # The same application object, no restart: the first request after the return succeeds.
    assert client.get("/-/health").status_code == 200
    assert client.get("/api/v1/candidates", headers=api).status_code == 200
    assert client.get("/login").status_code == 200
    assert b'talentreel_monitoring_source_up{source="database"} 1.0' in client.get("/metrics").data


# --- the disk fills during an upload ------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real, tiny file system (tmpfs, 4 MiB) that fills up for real: writes fail with ENOSPC."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full drill (needs root / CAP_SYS_ADMIN): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, leave: int) -> Path:
    """Fill the file system until about `leave` bytes are free."""
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def tus(client, token):
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}

    def create(candidate, length):
        meta = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}"
                        for k, v in {"candidate_id": candidate.id, "filename": "interview.mp4"}.items())
        response = client.post("/api/v1/uploads/", headers={**headers, "Upload-Length": str(length), "Upload-Metadata": meta})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.headers["Location"]

    def patch(url, offset, data):
        return client.patch(url, data=data, headers={**headers, "Content-Type": "application/offset+octet-stream",
                                                     "Upload-Offset": str(offset)})

    def offset(url):
        return int(client.head(url, headers=headers).headers["Upload-Offset"])

    return create, patch, offset


def stored_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def disk_app(small_disk, settings):
    from talentreel.server import create_app

    # The data directory (uploads, objects) is on the small disk; the database stays where it
    # was, as it would on its own server or volume.
    app = create_app(dict(settings, data_dir=str(small_disk), redis_url=f"{REDIS_SERVER}/{REDIS_DB}"))
    yield app
    app.extensions["talentreel"].database.close()


@pytest.mark.parametrize("leave", [200 * 1024, 650 * 1024], ids=["while-receiving", "while-storing"])
def test_disk_fills_during_an_upload(disk_app, small_disk, leave):
    """200 KiB free: the disk fills while the bytes arrive. 650 KiB: the bytes fit, storing the
    encrypted original next to them does not."""
    app = disk_app
    db = app.extensions["talentreel"].database
    with db.connection_context():
        from talentreel.server.accounts import create_user

        hr = create_user("disk_hr", "correct horse battery", ("hr",))
        candidate = m.Candidate.create(organisation=default_organisation(), name="Liu Yang")
        token = create_api_token(hr, "drill")[1]
    client = app.test_client()
    create, patch, offset = tus(client, token)
    data = INTERVIEW.read_bytes()
    objects = Path(app.extensions["talentreel"].settings["storage_path"])
    objects.mkdir(parents=True, exist_ok=True)
    url = create(candidate, len(data))  # refused up front when there is no room: it is made first
    filler = fill(small_disk, leave)  # ... and then the disk fills
    response = patch(url, 0, data)
    assert response.status_code == 507, (response.status_code, response.get_data(as_text=True)[:300])
    assert "ran out of room" in response.get_json()["error"]
    # Nothing half-stored: no recording, no stored object, no leftover temporary file.
    with db.connection_context():
        assert m.Recording.select().count() == 0
        assert m.DataKey.select().count() == 0
    assert stored_files(objects) == []
    # The server keeps serving meanwhile.
    assert client.get("/-/health").status_code == 200
    assert client.get("/api/v1/candidates", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    filler.unlink()  # the admin makes room; the client resumes where the server says
    at = offset(url)
    assert 0 <= at <= len(data)
    done = patch(url, at, data[at:])
    assert done.status_code == 204, done.get_data(as_text=True)[:300]
    with db.connection_context():
        (recording,) = m.Recording.select()
        assert recording.sha256 is None or recording.size_bytes == len(data)
        plain = app.extensions["talentreel"].store.open(object_key(recording.id, ORIGINAL)).read()
    assert hashlib.sha256(plain).hexdigest() == hashlib.sha256(data).hexdigest()


# --- a worker killed mid-transcode --------------------------------------------------------------


@pytest.fixture
def queue_settings(settings):
    settings["redis_url"] = f"{REDIS_SERVER}/{REDIS_DB}"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


def start_worker(settings, tmp: Path, *args: str, log_name: str = "worker.log") -> subprocess.Popen:
    """`talentreel worker` in its own process group, its temporary files under `tmp`."""
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TALENTREEL_DATA_DIR=settings["data_dir"], TALENTREEL_DATABASE_URL=settings["database_url"],
               TALENTREEL_REDIS_URL=settings["redis_url"], TALENTREEL_LOG_LEVEL="WARNING", TMPDIR=str(tmp),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    log = open(tmp.parent / log_name, "ab")
    return subprocess.Popen([sys.executable, "-m", "talentreel.server.cli", "worker", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.wait()


def ffmpegs_under(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def ffmpegs_using(tmp: Path) -> list[psutil.Process]:
    """Any ffmpeg on the machine working in `tmp` (an orphan would have left the worker's tree)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "ffmpeg" in (proc.info["name"] or "") and str(tmp) in " ".join(proc.info["cmdline"] or ()) \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def test_worker_killed_mid_transcode(queue_settings, app, db, make_user, tmp_path):
    import av

    from talentreel.server.recordings import OUTPUT_NAMES, ingest_file

    settings = queue_settings
    state = app.extensions["talentreel"]
    hr = make_user("drill_hr", roles=("hr",))
    candidate = m.Candidate.create(organisation=default_organisation(), name="Zhao Lei")
    # Sorenson FLV: transcoded, so ffmpeg works long enough to be caught at it.
    recording = ingest_file(state, FIXTURES / "interview_en" / "legacy_sorenson.flv", candidate=candidate,
                            original_name="legacy.flv", actor=hr)
    item = m.WorkItem.get(m.WorkItem.func == "talentreel.workers.media.process_recording")
    db.close()

    tmp = tmp_path / "worker-tmp"
    worker = start_worker(settings, tmp, "media")
    try:
        running = wait_for(lambda: ffmpegs_under(worker.pid), 60, "ffmpeg to start transcoding", interval=0.05)
        horse = running[0].parent()
        assert horse.pid != worker.pid, "expected ffmpeg under RQ's work horse"
        transcoders = [p.pid for p in running]
        horse.kill()  # kill -9 of the process doing the work: the OOM killer's way
        # No orphan: every ffmpeg of the killed horse dies with it (PR_SET_PDEATHSIG).
        wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                                 for pid in transcoders), 10, "the killed horse's ffmpeg to die")
        # The job is retried (RQ sees its horse die) and completes.
        with db.connection_context():
            done = wait_for(lambda: m.WorkItem.get_by_id(item.id).state in ("done", "failed") and m.WorkItem.get_by_id(item.id),
                            120, "the retried media job")
            assert done.state == "done", done.error
            assert done.attempts == 2  # the killed attempt and the retry
            ready = m.Recording.get_by_id(recording.id)
            assert ready.state == "ready", ready.error
            assert ready.media["how"] == "transcode"
            # The pictures job the retried job queued, on the same worker.
            pictures = wait_for(lambda: m.WorkItem.get_or_none((m.WorkItem.func == "talentreel.workers.media.make_pictures")
                                                               & m.WorkItem.state.in_(("done", "failed"))), 60, "the pictures job")
            assert pictures.state == "done", pictures.error
            # Exactly one output: one object per name, no partial files beside them.
            keys = sorted(state.store.backend.keys(f"recordings/{recording.id}/")) if hasattr(state.store, "backend") else None
            analysis = m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.analysis.analyze_recording").count()
        objects = Path(state.settings["storage_path"])
        stored = stored_files(objects)
        assert not [p for p in stored if Path(p).name.startswith(".")], stored  # no half-written part files
        expected = {object_key(recording.id, n) for n in (ORIGINAL, *OUTPUT_NAMES)}
        assert set(stored) >= expected - {object_key(recording.id, "audio.wav")}
        assert keys is None or set(keys) == set(stored)
        assert analysis == 1, "the analysis job was queued more than once"
        # ... and a valid one: the video decodes from its first frame.
        with db.connection_context():
            plain = state.store.open(object_key(recording.id, "video.mp4")).read()
        video = tmp_path / "check.mp4"
        video.write_bytes(plain)
        with av.open(str(video)) as container:
            frames = 0
            for _ in container.decode(video=0):
                frames += 1
                if frames == 10:
                    break
        assert frames == 10
        # The killed attempt's scratch directory (a decrypted copy of the recording) is gone.
        assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("talentreel-")) == []
    finally:
        stop_worker(worker)
    assert ffmpegs_using(tmp) == []


# --- Redis flushed and restarted mid-run --------------------------------------------------------


class PrivateRedis:
    """A Redis server of this test alone (the machine's one is shared), so it can be restarted."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conn = redis_lib.Redis.from_url(self.url)
        wait_for(lambda: _pings(conn), 10, "redis-server")
        return self

    def flush_and_restart(self) -> None:
        conn = redis_lib.Redis.from_url(self.url)
        conn.flushall()
        try:
            conn.shutdown(nosave=True)
        except redis_lib.ConnectionError:
            pass  # the server closes the connection as it goes
        self.process.wait(10)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _pings(conn) -> bool:
    try:
        return conn.ping()
    except redis_lib.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path, settings):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: install Debian's redis-server package")
    server = PrivateRedis(tmp_path).start()
    settings["redis_url"] = server.url
    yield server
    server.stop()


JOBS = 8


def test_redis_flushed_and_restarted_mid_run(private_redis, app, db, tmp_path, monkeypatch):
    settings = app.extensions["talentreel"].settings
    marks = tmp_path / "marks.txt"
    marks.touch()
    monkeypatch.setenv("TALENTREEL_DRILL_MARKS", str(marks))
    items = [jobs.enqueue(settings, "maintenance", "drill_jobs.mark", f"job{i}", 0.3) for i in range(JOBS)]
    db.close()

    def ran() -> list[str]:
        return [line.split()[0] for line in marks.read_text().splitlines()]

    worker = start_worker(settings, tmp_path / "tmp", "maintenance")
    try:
        wait_for(lambda: len(ran()) >= 2, 60, "the first jobs to run")
        private_redis.flush_and_restart()  # every queued job, the registries and the worker's keys: gone
        lost = {i.id for i in items} - {i.id for i in m.WorkItem.select().where(m.WorkItem.state == "done")}
        db.close()
        assert lost, "the drill needs work still pending when Redis goes"
        # A job that was running when Redis went finishes in its work horse and records itself
        # in the database; let it, then the reconciler (what every worker runs at start and every
        # minute) puts back what Redis lost, and a worker does it.
        wait_for(lambda: not m.WorkItem.select().where(m.WorkItem.state == "running").exists(), 30, "the running job to end")
        db.close()
        again = start_worker(settings, tmp_path / "tmp", "--burst", "maintenance", log_name="burst.log")
        assert again.wait(120) == 0
        assert worker.poll() is None, "the long-running worker did not survive Redis going away"
        worker.terminate()  # and it still stops when asked (a warm shutdown)
        assert worker.wait(20) == 0
    finally:
        stop_worker(worker)
    with db.connection_context():
        states = {i.id: m.WorkItem.get_by_id(i.id) for i in items}
    assert {w.state for w in states.values()} == {"done"}, {k: (w.state, w.error) for k, w in states.items()}
    counts = {f"job{i}": ran().count(f"job{i}") for i in range(JOBS)}
    assert counts == {f"job{i}": 1 for i in range(JOBS)}, counts  # all of it, each exactly once
