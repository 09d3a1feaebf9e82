"""Running one analyzer's work in several processes at once, sharing the models already loaded.

Speech-to-text is nearly all of an analysis's time and pocketsphinx decodes on one core. The
worker loads models once, in its parent process; a forked child shares them copy-on-write, so
`fork_map` forks children of the job's process (never `spawn`: that would load the models again
in every child, per job). Results come back pickled through a pipe.

Why plain fork and not multiprocessing.Pool: a pool starts helper threads in the parent, and a
later fork beside running threads can copy a lock some thread holds. Here nothing else runs while
the children are forked, and each child only computes, writes its pipe and `os._exit`s (no
atexit handlers, no database connection of the parent touched, no flushed stdio buffers twice).

Every child dies with its parent (PR_SET_PDEATHSIG): a job killed by its timeout or cancelled
takes its decoders with it. A child that fails raises `ChildFailed` in the parent with the
child's error, so the runner records the analyzer as failed, with the reason.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import traceback
from typing import Callable, TypeVar

from talentreel.server.media.ffmpeg import die_with_parent_hook

T = TypeVar("T")

MAX_PROCESSES = 8
"""More decoders than this only add memory: analysis runs beside the media and web processes."""


class ChildFailed(RuntimeError):
    """A forked child raised, or died without an answer (killed, crashed in C)."""


def processes_for(setting: int) -> int:
    """The number of processes to use: the `analysis_processes` setting, 0 meaning one per core."""
    if setting and setting > 0:
        return min(setting, MAX_PROCESSES)
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
                      MAX_PROCESSES))


def fork_map(fn: Callable[[int], T], count: int) -> list[T]:
    """[fn(0), ..., fn(count - 1)], each computed in its own forked child, all at once.

    With count 1 it simply calls fn(0) here: nothing to share, no process to pay for."""
    if count <= 1:
        return [fn(0)]
    children: dict[int, tuple[int, int]] = {}  # read fd -> (index, pid)
    hook = die_with_parent_hook()
    finished = False
    try:
        for index in range(count):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: compute, answer, leave without running the parent's exit code
                os.close(read_fd)
                _child(fn, index, write_fd, hook)
            os.close(write_fd)
            children[read_fd] = (index, pid)
        results = _collect(children, count)
        finished = True
        return results
    finally:
        for read_fd, (_, pid) in children.items():
            _close_quietly(read_fd)
            _reap(pid, kill=not finished)


def _child(fn, index: int, write_fd: int, hook) -> None:
    code = 0
    try:
        if hook is not None:
            hook()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            payload = pickle.dumps(("ok", fn(index)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # reported to the parent, which decides
            code = 1
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}",
                                    traceback.format_exc(limit=4)[-2000:]))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
    finally:
        os._exit(code)


def _collect(children: dict[int, tuple[int, int]], count: int) -> list:
    """Read every child's answer as it arrives (a child blocks once its pipe is full)."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in children}
    with selectors.DefaultSelector() as selector:
        for fd in children:
            selector.register(fd, selectors.EVENT_READ)
        open_fds = len(children)
        while open_fds:
            for key, _ in selector.select():
                data = os.read(key.fd, 1 << 20)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    open_fds -= 1
    results: list = [None] * count
    for fd, (index, pid) in children.items():
        raw = b"".join(chunks[fd])
        if not raw:
            status = _reap(pid, kill=False)
            raise ChildFailed(f"analysis process {index + 1} of {count} ended without an answer ({_describe(status)})")
        answer = pickle.loads(raw)
        if answer[0] != "ok":
            raise ChildFailed(f"analysis process {index + 1} of {count} failed: {answer[1]}\n{answer[2]}")
        results[index] = answer[1]
    return results


def _describe(status: int | None) -> str:
    if status is None:
        return "no exit status"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _reap(pid: int, kill: bool) -> int | None:
    """Wait for a child; with `kill` (the parent is unwinding an error, a timeout, a cancel) one
    still running is killed first."""
    try:
        if kill:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:  # already reaped
        return None


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
