"""Where the media job's time goes: the real job (as in media_vs_ffmpeg.py) with parts of the
engine taken out, so that what is left shows what each part adds to the whole.

    full       the job as it is
    no-beside  no completeness check and no pictures beside ffmpeg (empty files in their place)
    no-ffmpeg  ffmpeg's video.mp4 made once, then hard-linked in place of each further run
    neither    both taken out: decrypting, probing, storing encrypted, the database

Not a target and not in run.py: a tool for deciding what to work on. Each variant runs in its own
process (the stubs are monkeypatches), best of --rounds after one run that makes the recording's
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

VARIANTS = ("full", "no-beside", "no-ffmpeg", "neither")
INPUTS = {"looped": common.h264_flv, "webcam": common.webcam_h264_flv}


def _stub(variant: str, scratch) -> None:
    from talentreel.server.media import ffmpeg, pictures, pipeline

    if variant in ("no-beside", "neither"):
        def no_pictures(source, out_dir, duration, grid, poster, sprite, index, *args, **kwargs):
            for name in (poster, sprite, index):
                (out_dir / name).write_bytes(b"-")

        pipeline.check_complete = lambda *args: None
        pictures.make = no_pictures
    if variant in ("no-ffmpeg", "neither"):
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
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            instance.process(recording.id)
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
