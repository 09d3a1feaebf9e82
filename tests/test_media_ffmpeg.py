"""Running ffmpeg: progress, typed errors, and no ffmpeg left behind however the run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from conftest import JobTimeout, job_timeout_after
from talentreel.server.errors import TalentReelError
from talentreel.server.media import ffmpeg

# A source that never ends, paced in real time: ffmpeg runs until it is stopped.
ENDLESS = ["-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-f", "null", "-"]


def ffmpeg_children(process=None):
    process = process or psutil.Process()
    found = []
    for child in process.children(recursive=True):
        try:
            if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture(autouse=True)
def no_ffmpeg_left():
    assert ffmpeg_children() == []
    yield
    assert ffmpeg_children() == [], "an ffmpeg child outlived its run"


def test_executable_found_without_system_ffmpeg():
    path = ffmpeg.ffmpeg_executable()
    assert os.access(path, os.X_OK)


def test_progress_reported_as_fraction_of_duration():
    seen = []
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc=d=2:s=64x48:r=10", "-f", "null", "-"], duration=2.0, progress=seen.append)
    assert seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen == sorted(seen)


def test_failure_carries_command_and_stderr_tail(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(ffmpeg.FfmpegError) as caught:
        ffmpeg.run(["-i", str(missing), "-f", "null", "-"])
    error = caught.value
    assert isinstance(error, TalentReelError)
    assert str(missing) in error.command
    assert "No such file" in error.stderr_tail
    assert error.returncode not in (None, 0)
    assert "No such file" in str(error) and str(missing) in str(error)


def test_timeout_kills_ffmpeg():
    started = time.monotonic()
    with pytest.raises(ffmpeg.FfmpegTimeout):
        ffmpeg.run(ENDLESS, timeout=0.5)
    assert time.monotonic() - started < 3


def test_cancel_event_kills_ffmpeg():
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ffmpeg.FfmpegCancelled):
        ffmpeg.run(ENDLESS, cancel=cancel)
    assert time.monotonic() - started < 3


def test_cancel_callable_kills_ffmpeg():
    deadline = time.monotonic() + 0.3
    with pytest.raises(ffmpeg.FfmpegCancelled):
        ffmpeg.run(ENDLESS, cancel=lambda: time.monotonic() > deadline)


def test_commands_alongside_share_the_run():
    seen = []
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=10", "-f", "null", "-"], duration=2.0, progress=seen.append,
               alongside=[["-f", "lavfi", "-i", "testsrc=d=2:s=64x48:r=10", "-f", "null", "-"]])
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_a_failing_command_alongside_fails_the_run_and_stops_the_others(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(ffmpeg.FfmpegError) as caught:
        ffmpeg.run(ENDLESS, alongside=[["-i", str(missing), "-f", "null", "-"]], timeout=10)
    assert not isinstance(caught.value, ffmpeg.FfmpegTimeout)
    assert str(missing) in caught.value.command and "No such file" in caught.value.stderr_tail


def test_timeout_kills_every_ffmpeg_of_the_run():
    with pytest.raises(ffmpeg.FfmpegTimeout):
        ffmpeg.run(ENDLESS, alongside=[ENDLESS, ENDLESS], timeout=0.5)


def test_exception_in_progress_callback_kills_ffmpeg():
    class Boom(Exception):
        pass

    def progress(fraction):
        raise Boom

    with pytest.raises(Boom):
        ffmpeg.run(ENDLESS, duration=3600, progress=progress)


def test_signal_in_parent_kills_ffmpeg():
    """RQ's job timeout is SIGALRM raising an exception in the work horse's main thread."""
    with pytest.raises(JobTimeout), job_timeout_after(0.4):
        ffmpeg.run(ENDLESS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
@pytest.mark.parametrize("how", ["setpriv", "preexec"])
def test_ffmpeg_dies_with_a_killed_parent(how):
    """SIGKILL leaves no `finally` to run: the kernel must take ffmpeg down with its parent,
    whether setpriv set the death signal or (where there is no setpriv) a preexec function."""
    if how == "setpriv" and ffmpeg._setpriv() is None:
        pytest.skip("no setpriv with --pdeathsig on this machine")
    without = "ffmpeg._setpriv = lambda: None; " if how == "preexec" else ""
    parent = subprocess.Popen([sys.executable, "-c",
                               f"from talentreel.server.media import ffmpeg; {without}ffmpeg.run({ENDLESS!r})"])
    try:
        deadline = time.monotonic() + 10
        children = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.05)
            children = ffmpeg_children(psutil.Process(parent.pid))
        assert children, "ffmpeg never started"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(children, timeout=5)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], "ffmpeg outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
