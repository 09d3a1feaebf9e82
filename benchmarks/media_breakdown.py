"""Where the media jobs' time goes: the real job (as in media_vs_ffmpeg.py) with ffmpeg taken
out, so that what is left shows the job's fixed costs, and the pictures job after it.

    full       the media job as it is (decrypt, ffmpeg, store video.mp4, the database)
    no-ffmpeg  ffmpeg's video.mp4 made once, then hard-linked in place of each further run
    pictures   the pictures job that follows (decrypt video.mp4, poster and sprite, store them)

Not a target and not in run.py: a tool for deciding what to work on. Each variant runs in its own
process (the stub is a monkeypatch), best of --rounds after one run that makes the recording's
outputs (so every measured run replaces them, as the benchmark's rounds do).

    flock /tmp/bench.lock python benchmarks/media_breakdown.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

import common

VARIANTS = ("full", "no-ffmpeg", "pictures")
INPUTS = {"looped": common.h264_flv, "webcam": common.webcam_h264_flv}


def _stub(variant: str, scratch) -> None:
    from talentreel.server.media import ffmpeg

    if variant == "no-ffmpeg":
        real, made = ffmpeg.run, scratch / "made.mp4"

        def linked(args, **kwargs):
            if not made.exists():
                real(args, **kwargs)
                shutil.copy(args[-1], made)
            else:
                os.link(made, args[-1])

        ffmpeg.run = linked


def _one(variant: str, name: str, rounds: int) -> None:
    instance = common.Instance.create()
    try:
        _stub(variant, instance.data_dir)
        recording = instance.ingest(INPUTS[name]())
        instance.process(recording.id)
        instance.make_pictures(recording.id)
        step = instance.make_pictures if variant == "pictures" else instance.process
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            step(recording.id)
            times.append(time.perf_counter() - started)
        print(f"{name} {variant} {min(times):.4f}")
    finally:
        instance.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "INPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one[0], args.one[1], args.rounds)
        return
    with open("/proc/loadavg") as fh:
        common.log(f"load average {fh.read().split()[0]}")
    print("| input | " + " | ".join(VARIANTS) + " |\n|---|" + "---|" * len(VARIANTS))
    for name in INPUTS:
        cells = []
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--rounds", str(args.rounds), "--one", variant, name],
                                 check=True, capture_output=True, text=True).stdout.split()
            cells.append(f"{float(out[-1]) * 1000:.0f} ms")
        print(f"| {name} | " + " | ".join(cells) + " |")
    with open("/proc/loadavg") as fh:
        common.log(f"load average {fh.read().split()[0]}")


if __name__ == "__main__":
    main()
