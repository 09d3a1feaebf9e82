"""Running the ffmpeg binary: find it, follow its progress, and never leave it running.

A media job can end in many ways besides success: RQ's job timeout (SIGALRM raising in the work
horse), a cancel from the UI, an exception in a progress callback, or the work horse being killed
outright. ffmpeg must die with every one of them, or a stopped job keeps burning the CPU of the
next one. So the child is killed and reaped in a `finally`, and on Linux it is also told to die
with its parent (PR_SET_PDEATHSIG) for the ends no `finally` sees, such as SIGKILL. It stays in
the caller's process group on purpose: RQ stops a work horse by killing that group.

The death signal is set by util-linux's `setpriv --pdeathsig KILL` in front of ffmpeg where it
exists (every Debian and most Linux systems), and only otherwise by a preexec function: a
preexec function forces a real fork() of the whole worker (17 ms for a 300 MB process, more for
a worker holding speech models), where setpriv lets Python start the child with vfork (0.3 ms).
"""

from __future__ import annotations

import collections
import functools
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence

from .. import libc
from ..errors import TalentReelError

STDERR_TAIL_LINES = 30
"""Lines of ffmpeg's stderr kept for the error message; the cause is nearly always at the end."""

POLL_SECONDS = 0.1
"""How often the deadline is checked while ffmpeg says nothing."""

CANCEL_POLL_SECONDS = 0.5
"""How often the cancel check runs: it may be a Redis round trip, and half a second is prompt enough."""


class FfmpegError(TalentReelError):
    """ffmpeg failed. Carries the command line and the last lines ffmpeg wrote to stderr."""

    def __init__(self, message: str, command: Sequence[str] = (), stderr_tail: str = "", returncode: int | None = None):
        self.command = list(command)
        self.stderr_tail = stderr_tail
        self.returncode = returncode
        details = [message]
        if self.command:
            details.append("command: " + shlex.join(self.command))
        if stderr_tail:
            details.append("ffmpeg said:\n" + stderr_tail)
        super().__init__("\n".join(details))


class FfmpegTimeout(FfmpegError):
    """ffmpeg ran past its time limit and was killed."""


class FfmpegCancelled(FfmpegError):
    """The work was cancelled while ffmpeg ran; ffmpeg was killed."""


@functools.lru_cache(maxsize=1)
def ffmpeg_executable() -> str:
    """A system ffmpeg on PATH when there is one (distributions patch and update it), else the
    static build shipped in the imageio-ffmpeg wheel, so a fresh machine needs nothing installed."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def is_cancelled(cancel) -> bool:
    """Whether `cancel` (None, an Event, or a callable returning True) asks to stop."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):  # threading.Event / multiprocessing.Event
        return cancel.is_set()
    return bool(cancel())


@functools.lru_cache(maxsize=1)
def _setpriv() -> str | None:
    """setpriv, when it is there and knows --pdeathsig (util-linux 2.33 and later)."""
    if not sys.platform.startswith("linux"):
        return None
    found = shutil.which("setpriv")
    if found is None:
        return None
    try:
        done = subprocess.run([found, "--pdeathsig", "KILL", "--", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return found if done.returncode == 0 else None


def spawn_args(command: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """(argv, preexec_fn) starting `command` so that it dies with this process (see the module's
    docstring): behind setpriv when possible, else with a preexec hook (or neither off Linux)."""
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *command], None
    return list(command), die_with_parent_hook()


def die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec function making the kernel SIGKILL ffmpeg when this process dies (Linux only).

    Strictly, when the thread that started ffmpeg ends; run() waits for ffmpeg in that thread,
    so the two end together.
    """
    prctl = libc.function("prctl")
    if prctl is None:
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def hook():
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)

    return hook


def _parse_progress(stream, index: int, blocks: queue.Queue) -> None:
    """Turn `-progress` key=value lines into one dict per block (a block ends with `progress=`),
    queued as (index of the ffmpeg, block); (index, None) when it closes its output."""
    block: dict[str, str] = {}
    for raw in iter(stream.readline, b""):
        key, sep, value = raw.decode("utf-8", "replace").strip().partition("=")
        if not sep:
            continue
        block[key] = value
        if key == "progress":
            blocks.put((index, block))
            block = {}
    blocks.put((index, None))


def _collect_tail(stream, tail: collections.deque) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)


def _fraction(block: dict, duration: float | None) -> float | None:
    if not duration or duration <= 0:
        return None
    value = block.get("out_time_us") or block.get("out_time_ms")  # both are microseconds
    try:
        micros = int(value)
    except (TypeError, ValueError):  # "N/A" before the first packet is written
        return None
    return max(0.0, min(1.0, micros / 1e6 / duration))


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            process.kill()
        except ProcessLookupError:
            pass
    process.wait()


class _Child:
    """One ffmpeg process, with threads draining its pipes so that it never blocks on them."""

    def __init__(self, args: Sequence[str], index: int, blocks: queue.Queue):
        self.command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
                        "-progress", "pipe:1", *args]
        self.tail: collections.deque = collections.deque(maxlen=STDERR_TAIL_LINES)
        argv, preexec = spawn_args(self.command)
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=preexec, close_fds=True)
        self.readers = [threading.Thread(target=_collect_tail, args=(self.process.stderr, self.tail), daemon=True, name="ffmpeg-stderr"),
                        threading.Thread(target=_parse_progress, args=(self.process.stdout, index, blocks), daemon=True, name="ffmpeg-progress")]
        try:
            for reader in self.readers:
                reader.start()
        except BaseException:
            _kill(self.process)
            raise

    def error(self, kind: type[FfmpegError], message: str) -> FfmpegError:
        """The error to raise, once the process is dead (its stderr is then complete)."""
        self.readers[0].join(timeout=2)
        return kind(message, self.command, "\n".join(self.tail), self.process.returncode)

    def close(self) -> None:
        _kill(self.process)
        for reader in self.readers:
            reader.join(timeout=5)
        self.process.stdout.close()
        self.process.stderr.close()


def run(
    args: Sequence[str],
    *,
    duration: float | None = None,
    progress: Callable[[float], None] | None = None,
    cancel=None,
    timeout: float | None = None,
    alongside: Sequence[Sequence[str]] = (),
) -> None:
    """Run ffmpeg with `args` (everything after the executable, inputs and outputs).

    duration: length of the input in seconds, to turn ffmpeg's output time into a fraction.
    progress: called with a rising fraction 0..1 about twice a second, in the calling thread (so
        it may use the caller's database connection), and with 1.0 at the end.
    cancel: a callable returning True, or an Event, checked while ffmpeg runs.
    timeout: seconds ffmpeg may run before it is killed.
    alongside: more ffmpeg commands, run at the same time (they spread over the cores).
        They share the deadline and the cancel, all must succeed, and the progress is that of
        the one furthest behind.

    Raises FfmpegTimeout, FfmpegCancelled or FfmpegError; every ffmpeg started is dead and reaped
    when this returns or raises, whatever the reason.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    blocks: queue.Queue = queue.Queue()
    children: list[_Child] = []

    def stop(kind, message, child=None):
        for each in children:
            _kill(each.process)
        return (child or children[0]).error(kind, message)

    try:
        for index, command in enumerate([args, *alongside]):
            children.append(_Child(command, index, blocks))
        fractions = [0.0] * len(children)
        reported = -1.0  # the UI only needs a value when it rises
        talking = len(children)  # ffmpegs whose progress output is still open
        next_cancel_check = 0.0
        while True:
            for child in children:
                returncode = child.process.poll()
                if returncode not in (None, 0):
                    raise stop(FfmpegError, f"ffmpeg failed with exit status {returncode}", child)
            if not talking and all(child.process.poll() is not None for child in children):
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise stop(FfmpegTimeout, f"ffmpeg did not finish within {timeout:g} s and was stopped")
            if cancel is not None and now >= next_cancel_check:
                next_cancel_check = now + CANCEL_POLL_SECONDS
                if is_cancelled(cancel):
                    raise stop(FfmpegCancelled, "cancelled; ffmpeg was stopped")
            wait = POLL_SECONDS if deadline is None else max(0.0, min(POLL_SECONDS, deadline - now))
            if not talking:  # all have closed their output and are exiting
                running = next((child for child in children if child.process.poll() is None), None)
                if running is not None:
                    try:
                        running.process.wait(timeout=wait)
                    except subprocess.TimeoutExpired:
                        pass
                continue
            try:
                index, block = blocks.get(timeout=wait)
            except queue.Empty:
                continue
            if block is None:
                talking -= 1
                try:  # it is exiting: wait for it rather than poll, the end comes sooner
                    if children[index].process.wait(timeout=wait) == 0:
                        fractions[index] = 1.0
                except subprocess.TimeoutExpired:
                    pass
            else:
                fraction = _fraction(block, duration)
                if fraction is not None:
                    fractions[index] = max(fractions[index], fraction)
            if progress is not None and min(fractions) > reported:
                reported = min(fractions)
                progress(reported)
    finally:
        for child in children:
            child.close()
    if progress is not None and reported < 1.0:
        progress(1.0)
