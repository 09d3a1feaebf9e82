"""What the benchmarks share: the cache of inputs, a TalentReel instance in a temporary data
directory, the production web server in a subprocess, and small measuring helpers.

Nothing here installs anything. The inputs are made once with the ffmpeg TalentReel itself uses
and kept under benchmarks/.cache/ (gitignored).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
SHARED = Path(os.environ.get("TALENTREEL_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "interview_en"

TEN_MINUTES = 600.0
"""Length of the benchmark inputs, in seconds."""

MiB = 1024 * 1024

JOB_TIMEOUT_SECONDS = 300
"""Time limit of one media job in the benchmark instance (the pipeline kills ffmpeg past it)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ffmpeg() -> str:
    from talentreel.server.media.ffmpeg import ffmpeg_executable

    return ffmpeg_executable()


# --- inputs ----------------------------------------------------------------------------------


def looped_flv(fixture: str, name: str) -> Path:
    """A ten-minute FLV made by concatenating the fixture with itself, streams copied (nothing is
    re-encoded, so the codecs are the fixture's). Made once, then taken from the cache."""
    target = CACHE / name
    if target.is_file() and target.stat().st_size > 0:
        return target
    source = FIXTURES / fixture
    if not source.is_file():
        raise SystemExit(f"missing fixture {source} (set TALENTREEL_SHARED to the shared folder)")
    CACHE.mkdir(parents=True, exist_ok=True)
    duration = _duration(source)
    copies = int(TEN_MINUTES // duration) + 1
    listing = CACHE / f"{name}.concat.txt"
    listing.write_text("".join(f"file '{source}'\n" for _ in range(copies)))
    partial = target.with_suffix(".partial.flv")
    log(f"making {target.name}: {copies} x {source.name}, stream copy, cut at {TEN_MINUTES:.0f} s")
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-t", str(TEN_MINUTES), "-c", "copy", "-f", "flv", str(partial)], check=True)
    listing.unlink()
    os.replace(partial, target)
    return target


def h264_flv() -> Path:
    """Ten minutes of H.264/AAC in FLV: the media job remuxes it."""
    return looped_flv("legacy_h264.flv", "h264_aac_10min.flv")


def webcam_h264_flv() -> Path:
    """Ten minutes of H.264/AAC in FLV at a webcam's rate (640x480, 25 fps, about 700 kb/s
    video, 96 kb/s sound, a keyframe every 5 s, as Flash Media Server recorded interviews), made
    once from ffmpeg's moving test pattern. The looped fixture runs at about 50 kb/s, where a
    remux takes a tenth of a second and fixed costs are all one measures; this one weighs what a
    real recording weighs."""
    target = CACHE / "h264_aac_webcam_10min.flv"
    if target.is_file() and target.stat().st_size > 0:
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.flv")
    log(f"making {target.name}: 640x480 test pattern and tone, x264 700 kb/s, 10 minutes (once; about a minute)")
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate=25:duration={TEN_MINUTES:.0f}",
                    "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=44100:duration={TEN_MINUTES:.0f}",
                    "-c:v", "libx264", "-preset", "veryfast", "-b:v", "700k", "-maxrate", "900k", "-bufsize", "1400k",
                    "-g", "125", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "flv", str(partial)], check=True)
    os.replace(partial, target)
    return target


def sorenson_flv() -> Path:
    """Ten minutes of Sorenson Spark/MP3 in FLV: the media job transcodes it."""
    return looped_flv("legacy_sorenson.flv", "sorenson_mp3_10min.flv")


def _duration(path: Path) -> float:
    from talentreel.server.media.probe import probe

    return probe(path).duration


# --- a TalentReel instance -------------------------------------------------------------------


@dataclass
class Instance:
    """A TalentReel instance in a temporary data directory (embedded mode: SQLite, local storage,
    a key file), with one HR user, an API token of theirs and one candidate."""

    data_dir: Path
    app: object
    user: object
    api_token_id: int
    api_token: str
    candidate: object

    @classmethod
    def create(cls, database_url: str | None = None) -> "Instance":
        from talentreel.server import create_app
        from talentreel.server.accounts import create_api_token, create_user, default_organisation
        from talentreel.server import models as m
        from talentreel.workers import base as worker_base

        data_dir = Path(tempfile.mkdtemp(prefix="talentreel-bench-"))
        # A job that hangs fails after job_timeout_seconds instead of holding the run forever.
        config = {"data_dir": str(data_dir), "log_level": "WARNING", "job_timeout_seconds": JOB_TIMEOUT_SECONDS}
        if database_url:
            config["database_url"] = database_url
        app = create_app(config)
        worker_base.set_app(app)  # the media job runs in this process, as in a worker's work horse
        database = app.extensions["talentreel"].database
        with database.connection_context():
            user = create_user("bench_hr", "bench password 1234", roles=("hr",))
            row, token = create_api_token(user, "benchmarks")
            candidate = m.Candidate.create(organisation=default_organisation(), name="Bench Candidate")
        return cls(data_dir, app, user, row.id, token, candidate)

    @property
    def state(self):
        return self.app.extensions["talentreel"]

    @property
    def database(self):
        return self.state.database

    @property
    def database_url(self) -> str:
        return self.state.settings["database_url"]

    def ingest(self, path: Path):
        """Store the file as a recording (validated, encrypted), without queueing its job."""
        from talentreel.server.recordings import ingest_file

        with self.database.connection_context():
            return ingest_file(self.state, path, candidate=self.candidate, original_name=path.name,
                               actor=self.user, enqueue=False)

    def process(self, recording_id: int) -> dict:
        """The real media job (talentreel.workers.media.process_recording), in this process."""
        from talentreel.workers.media import process_recording

        return process_recording(recording_id)

    def make_pictures(self, recording_id: int) -> dict:
        """The real pictures job (talentreel.workers.media.make_pictures), which the media job
        queues once the recording is ready, in this process."""
        from talentreel.workers.media import make_pictures

        return make_pictures(recording_id)

    def recording(self, recording_id: int):
        from talentreel.server import models as m

        with self.database.connection_context():
            return m.Recording.get_by_id(recording_id)

    def web_session(self) -> tuple[int, str]:
        """A signed-in browser session of the user, as the login form makes one: (its id, the
        cookie value)."""
        import datetime as dt

        from talentreel.server import models as m
        from talentreel.server.auth.tokens import new_token, token_hash

        cookie = new_token()
        now = m.utcnow()
        with self.database.connection_context():
            record = m.WebSession.create(user=self.user, token_hash=token_hash(cookie), created_at=now, last_seen_at=now,
                                         expires_at=now + dt.timedelta(hours=12), ip="127.0.0.1", user_agent="benchmarks", data={})
        return record.id, cookie

    def media_token(self, recording_id: int, web_session_id: int | None = None) -> str:
        """A media token as the replay page issues one: under a web session (as for a browser)
        when one is given, else under the user's API token."""
        from talentreel.server.playback import tokens

        kind, sid = ("web", web_session_id) if web_session_id is not None else ("api", self.api_token_id)
        grant = tokens.MediaGrant(user_id=self.user.id, recording_id=recording_id, session_kind=kind, session_id=sid)
        return tokens.issue(self.app.config["SECRET_KEY"], grant)

    def plaintext(self, object_key: str, target: Path) -> int:
        """Decrypt a stored object into `target` (for nginx to serve the same bytes)."""
        with self.database.connection_context(), self.state.store.open(object_key) as plain, open(target, "wb") as out:
            shutil.copyfileobj(plain, out, MiB)
        return target.stat().st_size

    def close(self) -> None:
        database = self.database
        if not database.is_closed():
            database.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --- servers in subprocesses -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process of ours in its own process group, stopped (group and all) on exit."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path, env: dict | None = None,
                 ready_path: str = "/"):
        self.name, self.command, self.port, self.log_path = name, command, port, log_path
        self.env, self.ready_path = env, ready_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}; see {self.log_path}")
            try:
                status, _headers, _body = get(self.port, self.ready_path)
                if status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within 60 s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    @property
    def pid(self) -> int:
        return self.process.pid


def talentreel_web(instance: Instance, port: int, log_path: Path, workers: int | None = None,
                   threads: int | None = None, settings: dict | None = None) -> Server:
    """The web server as production runs it: `talentreel web` (gunicorn, gthread workers) on
    loopback, against the instance's data directory. With `threads` given, the same gunicorn
    set-up through talentreel.server.cli.serve.serve with that thread count (`talentreel web`
    fixes 4). `settings`: more settings, by name, passed as the environment sets them."""
    env = dict(os.environ, TALENTREEL_DATA_DIR=str(instance.data_dir), TALENTREEL_LOG_LEVEL="WARNING",
               TALENTREEL_DATABASE_URL=instance.database_url)
    env.update({"TALENTREEL_" + name.upper(): str(value) for name, value in (settings or {}).items()})
    if threads is None:
        command = [sys.executable, "-m", "talentreel.server.cli", "web", "--host", "127.0.0.1", "--port", str(port)]
        if workers:
            command += ["--workers", str(workers)]
    else:
        command = [sys.executable, str(HERE / "serve_app.py"), "--port", str(port),
                   "--workers", str(workers or 2), "--threads", str(threads)]
    return Server("talentreel web", command, port, log_path, env=env, ready_path="/-/health")


def talentreel_media(instance: Instance, port: int, log_path: Path, workers: int | None = None) -> Server:
    """The media server as `talentreel up` and production run it: `talentreel media-server`."""
    env = dict(os.environ, TALENTREEL_DATA_DIR=str(instance.data_dir), TALENTREEL_LOG_LEVEL="WARNING",
               TALENTREEL_DATABASE_URL=instance.database_url)
    command = [sys.executable, "-m", "talentreel.server.cli", "media-server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers or 2)]
    return Server("talentreel media-server", command, port, log_path, env=env, ready_path="/-/health")


def get(port: int, path: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def worker_processes(master_pid: int):
    """gunicorn's worker processes: the children of the arbiter."""
    import psutil

    return psutil.Process(master_pid).children()


def machine() -> dict:
    import platform

    import psutil

    cpu = ""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def best_of(runs: int, function):
    """Run `function` `runs` times; return (best seconds, all seconds, last result)."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), times, result


class Context:
    """What one run of the benchmarks shares: options, a work directory, and one TalentReel
    instance (made on first use) with the ten-minute H.264 recording processed on first use."""

    def __init__(self, quick: bool = False, database_url: str | None = None, workers: int | None = None,
                 threads: int | None = None, keep: bool = False):
        self.quick, self.database_url, self.workers, self.threads, self.keep = quick, database_url, workers, threads, keep
        self.workdir = Path(tempfile.mkdtemp(prefix="talentreel-bench-run-"))
        self._instance: Instance | None = None
        self._ready: dict[str, int] = {}

    @property
    def instance(self) -> Instance:
        if self._instance is None:
            self._instance = Instance.create(self.database_url)
            log(f"TalentReel instance in {self._instance.data_dir} ({self._instance.database_url.split(':')[0]})")
        return self._instance

    def ready_recording(self, path: Path) -> int:
        """The id of a ready recording made from `path` by ingest and the real media jobs (video,
        then pictures)."""
        if str(path) not in self._ready:
            recording = self.instance.ingest(path)
            result = self.instance.process(recording.id)
            if not result or result.get("state") != "ready":
                raise RuntimeError(f"the media job did not make {path.name} ready: {result}")
            self.instance.make_pictures(recording.id)
            self._ready[str(path)] = recording.id
        return self._ready[str(path)]

    def close(self) -> None:
        if self._instance is not None and not self.keep:
            self._instance.close()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
