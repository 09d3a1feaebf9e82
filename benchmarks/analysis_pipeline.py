"""The whole analysis pipeline on a ten-minute interview, against its recording's length and the
bare speech-to-text engine.

Input: the fixture interview (`interview_en/interview.mp4`, 70 s, synthetic voices and a face)
looped with stream copy to ten minutes (cached), its question list repeated as many times, the
candidate's consent recorded, so every analyzer runs. The media job makes it ready first (not
timed here: media_vs_ffmpeg.py measures it).

Figures:
- pipeline: `talentreel.workers.analysis.analyze_recording`, in this process as a worker's work
  horse runs it, models preloaded once (`preload_analyzers`, timed apart). Target: wall time at
  most 0.4x the recording's length on 2 cores.
- speech-to-text: the `stt-pocketsphinx` analyzer's seconds in that run (its utterances shared out
  between `analysis_processes` processes, one per core), against the bare engine on the same 16 kHz
  WAV: one pocketsphinx Decoder with the wheel's default model, one pass over the whole file as
  pocketsphinx's documentation streams it (its Endpointer cuts utterances, each is decoded in one
  pass), no question alignment. Target: at most 1.1x the bare engine. Since the bare engine uses
  one core, the analyzer is also run alone in one process (`analysis_processes = 1`) on the same
  input: that ratio is the analyzer's own overhead (wider cut, question alignment).
- vision: the `vision` analyzer's seconds at `vision_fps` (2), as multiples of real time. Target: at
  least 12x real time.
- peak memory during the analysis (sampled every 50 ms): the summed PSS of this process and its
  forked decoders (shared model pages counted once), and this process's peak RSS over the run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
import wave
from pathlib import Path

import common
from common import log

TARGETS = {"pipeline": 0.4, "stt": 1.1, "vision": 12.0}
FIXTURE = common.FIXTURES / "interview.mp4"


def looped_interview(seconds: float) -> Path:
    """The fixture interview looped to `seconds` with stream copy (nothing re-encoded), cached."""
    target = common.CACHE / f"interview_{int(seconds)}s.mp4"
    if target.is_file() and target.stat().st_size > 0:
        return target
    if not FIXTURE.is_file():
        raise SystemExit(f"missing fixture {FIXTURE} (set TALENTREEL_SHARED to the shared folder)")
    common.CACHE.mkdir(parents=True, exist_ok=True)
    copies = int(seconds // common._duration(FIXTURE)) + 1
    listing = common.CACHE / f"{target.name}.concat.txt"
    listing.write_text("".join(f"file '{FIXTURE}'\n" for _ in range(copies)))
    partial = target.with_suffix(".partial.mp4")
    log(f"making {target.name}: {copies} x {FIXTURE.name}, stream copy, cut at {seconds:.0f} s")
    subprocess.run([common.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-t", str(seconds), "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(partial)],
                   check=True)
    listing.unlink()
    os.replace(partial, target)
    return target


class PeakRSS:
    """Highest memory of this process and its children while the block runs: their summed PSS
    (proportional set size: a page shared by the forked decoders counts once in all, not once in
    each, as RSS would), which is what the machine really spends."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.process, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        import psutil

        total = self.process.memory_full_info().pss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_full_info().pss
            except psutil.Error:  # ended between listing and reading
                pass
        return total

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def bare_pocketsphinx(wav: Path) -> tuple[float, int]:
    """The bare engine as pocketsphinx's own documentation streams audio through it: its
    Endpointer (WebRTC VAD) cuts utterances, one Decoder with the wheel's default model decodes
    each in one pass. No question alignment, no word-time bookkeeping. (A single utterance over
    the whole file is no reference: the search over minutes of audio grows far slower than this.)
    Returns (seconds, words recognised)."""
    from pocketsphinx import Decoder, Endpointer

    endpointer = Endpointer()
    decoder = Decoder(samprate=endpointer.sample_rate, loglevel="FATAL")
    words = 0

    def count() -> int:
        return sum(1 for seg in decoder.seg() if not seg.word.startswith(("<", "[")))

    started = time.perf_counter()
    with wave.open(str(wav)) as audio:
        while True:
            frame = audio.readframes(endpointer.frame_bytes // 2)
            before = endpointer.in_speech
            if len(frame) < endpointer.frame_bytes:
                speech = endpointer.end_stream(frame) if before else None
                if speech:
                    decoder.process_raw(speech)
                if before:
                    decoder.end_utt()
                    words += count()
                break
            speech = endpointer.process(frame)
            if speech is not None:
                if not before:
                    decoder.start_utt()
                decoder.process_raw(speech)
                if not endpointer.in_speech:
                    decoder.end_utt()
                    words += count()
    return time.perf_counter() - started, words


def one_process_stt(instance, wav: Path, recording_id: int) -> float:
    """Seconds of the speech-to-text analyzer alone on `wav`, in this one process."""
    from talentreel.plugins import analyzer_stt_pocketsphinx as stt
    from talentreel.server import models as m
    from talentreel.server.analysis.contract import AnalysisInput

    with instance.database.connection_context():
        interview = m.Recording.get_by_id(recording_id).interview
        questions = list(interview.questions or [])
    settings = dict(instance.state.settings, analysis_processes=1)
    started = time.perf_counter()
    stt.run(AnalysisInput(recording_id, wav, None, 0.0, questions=questions, settings=settings))
    return time.perf_counter() - started


def _prepare(ctx: common.Context, seconds: float) -> int:
    import json

    from talentreel.server import models as m
    from talentreel.server.analysis import consent

    source = looped_interview(seconds)
    recording_id = ctx.ready_recording(source)
    truth = json.loads((common.FIXTURES / "truth.json").read_text())
    questions = [s["text"] for s in truth["segments"] if s["speaker"] == "interviewer"]
    copies = int(seconds // truth["duration"]) + 1 if truth.get("duration") else 9
    instance = ctx.instance
    with instance.database.connection_context():
        recording = m.Recording.get_by_id(recording_id)
        interview = m.Interview.create(candidate=recording.candidate, questions=questions * copies)
        consent.record(interview, None, "benchmark", ai=True, vision_voice=True)
        m.Recording.update(interview=interview).where(m.Recording.id == recording_id).execute()
    return recording_id


def run(ctx: common.Context) -> dict:
    from talentreel.server import models as m
    from talentreel.server.analysis import report as report_mod
    from talentreel.server.analysis import parallel
    from talentreel.server.recordings import object_key
    from talentreel.workers.analysis import analyze_recording, preload_analyzers

    seconds = 140.0 if ctx.quick else common.TEN_MINUTES
    recording_id = _prepare(ctx, seconds)
    instance = ctx.instance
    duration = instance.recording(recording_id).duration_seconds

    started = time.perf_counter()
    preload_analyzers(instance.app)
    preload_s = time.perf_counter() - started

    log(f"  analysing {duration:.0f} s of interview (every analyzer, models preloaded)")
    with PeakRSS() as rss:
        started = time.perf_counter()
        result = analyze_recording(recording_id)
        pipeline_s = time.perf_counter() - started
    with instance.database.connection_context():
        data = report_mod.latest(m.Recording.get_by_id(recording_id)).data
    statuses = {s["name"]: s for s in data["analysis"]}
    not_ran = {n: s.get("reason") for n, s in statuses.items() if s["state"] != "ran" and n != "stt-vosk"}
    if not_ran:
        raise RuntimeError(f"analyzers did not run: {not_ran}")
    log(f"  pipeline {pipeline_s:.1f} s ({pipeline_s / duration:.2f}x the recording); {result['analyzers']}")

    # The analysis job makes its WAV from the replay's video and keeps it only while it runs:
    # make the same one again for the references (server/media/audio.py).
    from talentreel.server.media.audio import extract_wav

    video = ctx.workdir / "video.mp4"
    instance.plaintext(object_key(recording_id, "video.mp4"), video)
    wav = extract_wav(video, ctx.workdir / "audio.wav", timeout=600)
    bare_s, bare_words = bare_pocketsphinx(wav)
    one_s = one_process_stt(instance, wav, recording_id)
    stt_s = statuses["stt-pocketsphinx"]["seconds"]
    vision_s = statuses["vision"]["seconds"]
    log(f"  speech-to-text {stt_s:.1f} s vs bare pocketsphinx {bare_s:.1f} s; vision {vision_s:.1f} s")

    results = {
        "input": f"{FIXTURE.name} looped to {duration:.0f} s", "duration_s": duration, "preload_s": round(preload_s, 2),
        "pipeline_s": round(pipeline_s, 2), "pipeline_ratio": pipeline_s / duration,
        "analyzers_s": {n: s.get("seconds") for n, s in statuses.items() if s["state"] == "ran"},
        "stt_s": stt_s, "stt_words": len(data["transcript"]["words"]), "bare_stt_s": round(bare_s, 2), "bare_stt_words": bare_words,
        "stt_ratio": stt_s / bare_s, "stt_one_process_s": round(one_s, 2), "stt_one_process_ratio": one_s / bare_s,
        "stt_processes": parallel.processes_for(instance.state.settings["analysis_processes"]), "vision_s": vision_s, "vision_fps": instance.state.settings["vision_fps"],
        "vision_x_realtime": duration / vision_s,
        "peak_rss_mib": round(rss.peak / common.MiB, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_load_1min": os.getloadavg()[0],
    }
    results["targets"] = [
        {"target": f"pipeline wall time <= {TARGETS['pipeline']}x the recording's length",
         "value": f"{results['pipeline_ratio']:.2f}x", "met": results["pipeline_ratio"] <= TARGETS["pipeline"]},
        {"target": f"speech-to-text <= {TARGETS['stt']}x the bare engine", "value": f"{results['stt_ratio']:.2f}x",
         "met": results["stt_ratio"] <= TARGETS["stt"]},
        {"target": f"vision >= {TARGETS['vision']:.0f}x real time at {results['vision_fps']} fps",
         "value": f"{results['vision_x_realtime']:.1f}x", "met": results["vision_x_realtime"] >= TARGETS["vision"]},
    ]
    return results


def report(results: dict) -> list[str]:
    per = ", ".join(f"{n} {s or 0:.1f} s" for n, s in sorted(results["analyzers_s"].items(), key=lambda i: -(i[1] or 0)))
    return [
        f"input: {results['input']}; models preloaded in {results['preload_s']:.1f} s (once per worker, not timed below); "
        f"1-minute load average at the end {results['cpu_load_1min']:.1f}",
        "",
        "| figure | measured | reference | ratio |",
        "|---|---|---|---|",
        f"| whole pipeline (analyze_recording) | {results['pipeline_s']:.1f} s | recording {results['duration_s']:.0f} s | "
        f"{results['pipeline_ratio']:.2f}x |",
        f"| speech-to-text (stt-pocketsphinx, {results['stt_words']} words) | {results['stt_s']:.1f} s | bare pocketsphinx, endpointer + one pass "
        f"{results['bare_stt_s']:.1f} s ({results['bare_stt_words']} words) | {results['stt_ratio']:.2f}x |",
        f"| speech-to-text in one process (`analysis_processes = 1`; the run above used {results['stt_processes']}) | "
        f"{results['stt_one_process_s']:.1f} s | the same bare pocketsphinx | {results['stt_one_process_ratio']:.2f}x |",
        f"| vision at {results['vision_fps']} fps | {results['vision_s']:.1f} s | recording {results['duration_s']:.0f} s | "
        f"{results['vision_x_realtime']:.1f}x real time |",
        f"| peak memory during the analysis (PSS, with the forked decoders) | {results['peak_rss_mib']:.0f} MiB | this process's peak RSS over the run {results['max_rss_mib']:.0f} MiB | |",
        "",
        f"per analyzer: {per}",
    ]


if __name__ == "__main__":
    from run import main as run_main

    run_main(["--only", "analysis"])
