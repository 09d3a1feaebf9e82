"""A job for the Redis drill (tests/test_drills.py): it leaves one line per run in a file, so the
test can count how many times each piece of work ran. Imported by worker processes the test starts
(PYTHONPATH includes tests/)."""

from __future__ import annotations

import os
import time

from talentreel.workers.base import job


@job
def mark(name: str, seconds: float) -> str:
    time.sleep(seconds)
    with open(os.environ["TALENTREEL_DRILL_MARKS"], "a") as fh:
        fh.write(f"{name} {os.getpid()}\n")  # one short append: atomic between processes
    return name
