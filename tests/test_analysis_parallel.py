"""Sharing an analyzer's work between forked processes (server/analysis/parallel.py), and the
speech-to-text analyzer that uses it: the same transcript whatever the number of processes."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from conftest import JobTimeout, job_timeout_after
from talentreel.server.analysis import parallel


def test_results_come_back_in_order_from_separate_processes():
    pids = parallel.fork_map(lambda k: (k, os.getpid()), 3)
    assert [k for k, _ in pids] == [0, 1, 2]
    assert len({pid for _, pid in pids}) == 3 and os.getpid() not in {pid for _, pid in pids}


def test_one_process_runs_here():
    assert parallel.fork_map(lambda k: os.getpid(), 1) == [os.getpid()]


def test_a_large_answer_arrives_whole():
    # Bigger than a pipe's buffer (64 KiB), from both children at once: the parent must read
    # them as they come or the children block.
    results = parallel.fork_map(lambda k: bytes([k]) * (3 << 20), 2)
    assert results == [b"\x00" * (3 << 20), b"\x01" * (3 << 20)]


def test_a_child_that_raises_names_its_error():
    def work(k):
        if k == 1:
            raise ValueError("utterance 7 is unreadable")
        return k

    with pytest.raises(parallel.ChildFailed, match="process 2 of 2 failed: ValueError: utterance 7 is unreadable"):
        parallel.fork_map(work, 2)
    assert not psutil.Process().children()


def test_a_child_killed_outright_is_reported():
    def work(k):
        if k == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return k

    with pytest.raises(parallel.ChildFailed, match="ended without an answer \\(killed by signal 9\\)"):
        parallel.fork_map(work, 2)
    assert not psutil.Process().children()


def test_children_are_killed_when_the_parent_gives_up():
    # A job timeout arrives as an exception in the parent (RQ's SIGALRM handler): the decoders
    # must not go on burning CPU for a job that is over.
    started = time.monotonic()
    with pytest.raises(JobTimeout), job_timeout_after(0.5):
        parallel.fork_map(lambda k: time.sleep(60), 2)
    assert time.monotonic() - started < 10
    assert not psutil.Process().children()


def test_processes_setting():
    assert parallel.processes_for(3) == 3
    assert parallel.processes_for(100) == parallel.MAX_PROCESSES
    assert 1 <= parallel.processes_for(0) <= parallel.MAX_PROCESSES


def test_speech_to_text_is_the_same_in_one_process_and_in_several(tmp_path_factory):
    from talentreel.plugins import analyzer_stt_pocketsphinx as ps
    from talentreel.server.analysis.contract import AnalysisInput

    from test_analyzer_stt import INTERVIEW, QUESTIONS, TRUTH, interview_wav

    wav = interview_wav(tmp_path_factory)
    parts = [ps.run(AnalysisInput(1, wav, INTERVIEW / "interview.mp4", TRUTH["duration"], questions=QUESTIONS,
                                  settings={"analysis_processes": n})) for n in (1, 3)]
    one, three = parts
    # The decoder carries a little state from one utterance to the next (its noise and cepstral
    # mean estimates), and a process decoding every third utterance has another history: the
    # words are the same, their times and confidences may move by a frame or a rounding digit.
    assert one["words"] and one["text"] == three["text"]
    assert [s["text"] for s in one["segments"]] == [s["text"] for s in three["segments"]]
    for a, b in zip(one["words"], three["words"]):
        assert abs(a["start"] - b["start"]) <= 0.1 and abs(a["end"] - b["end"]) <= 0.1, (a, b)
    assert any("question_index" in s for s in parts[1]["segments"])  # the alignment ran in the children too
