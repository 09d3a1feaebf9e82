"""Jobs of the `analysis` queue: run the analyzers on a ready recording and write a new report version.

The job asks (this module); the runner orders and isolates the analyzers; the report module
assembles what they found into the documented report. Models are loaded once per worker process:
`preload_analyzers` runs in the worker's parent process before it forks work horses.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from talentreel.server import models as m
from talentreel.server.analysis import consent, report as report_mod
from talentreel.server.analysis.contract import AnalysisInput
from talentreel.server.analysis.runner import not_chosen, resolve, run_all
from talentreel.server.plugins import merged_by_name
from talentreel.server.media.audio import extract_wav
from talentreel.server.recordings import object_key

from .base import current_redis, get_app, job, report_progress, scratch_dir

log = logging.getLogger("talentreel.workers.analysis")

COPY_BUFFER = 1024 * 1024


def analyzers(app) -> list[dict]:
    return list(merged_by_name(app.extensions["talentreel"].plugins, "talentreel_analyzers").values())


def preload_analyzers(app) -> None:
    """Load every analyzer's models once, in this process (a worker's parent, before forking).
    A bad configuration (a Vosk model path with no model) stops the worker here, naming it."""
    settings = app.extensions["talentreel"].settings
    for description in analyzers(app):
        if description.get("preload") and description.get("enabled", True) and not_chosen(description, settings) is None:
            resolve(description["preload"])(settings)


def _decrypt(store, key: str, target: Path) -> Path | None:
    if not store.exists(key):
        return None
    with store.open(key) as plain, open(target, "wb") as out:
        shutil.copyfileobj(plain, out, COPY_BUFFER)
    return target


@job
def analyze_recording(recording_id: int) -> dict:
    app = get_app()
    state = app.extensions["talentreel"]
    recording = m.Recording.get_by_id(recording_id)
    if recording.state != "ready":
        return {"skipped": f"recording is {recording.state}"}
    interview = recording.interview
    work = scratch_dir("analysis", recording_id)
    try:
        video = _decrypt(state.store, object_key(recording_id, "video.mp4"), work / "video.mp4")
        # Made here from the replay's video (see server/media/audio.py); recordings processed by
        # older versions may still have a stored one.
        audio = _decrypt(state.store, object_key(recording_id, "audio.wav"), work / "audio.wav")
        if audio is None and video is not None:
            audio = extract_wav(video, work / "audio.wav", timeout=state.settings["job_timeout_seconds"])
        inp = AnalysisInput(
            recording_id=recording_id, audio_path=audio, video_path=video,
            duration=recording.duration_seconds or 0.0,
            language=report_mod.language_of(recording, state.settings),
            questions=list(interview.questions or []) if interview else [],
            settings=state.settings,
            thresholds=consent.thresholds(recording),
        )
        permitted = consent.allowed_for(recording)
        started = time.monotonic()
        statuses = run_all(analyzers(app), inp, lambda d: not_chosen(d, state.settings) or permitted(d),
                           progress=lambda fraction, name: report_progress(0.05 + 0.9 * fraction, name))
        conn = current_redis()
        if conn is not None:
            from talentreel.monitoring import jobstats

            jobstats.record_analysis_rtf(conn, time.monotonic() - started, inp.duration)
        data = report_mod.assemble(recording, inp, statuses)
        saved = report_mod.save(recording, data)
        report_progress(1.0, "report ready")
        from talentreel.server import jobs

        from .pool import TAG_JOB

        jobs.enqueue(state.settings, "analysis", TAG_JOB, recording_id)  # the talent pool reads the new report
        return {"report_version": saved.version, "analyzers": {s["name"]: s["state"] for s in statuses.values()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
