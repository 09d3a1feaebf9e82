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

import peewee as pw

from talentreel.server import jobs
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

JOB = "talentreel.workers.analysis.analyze_recording"


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
        data = report_mod.assemble(recording, inp, statuses, consent.summary(consent.latest_consent(interview)))
        saved = report_mod.save(recording, data)
        report_progress(1.0, "report ready")
        from .pool import TAG_JOB

        jobs.enqueue(state.settings, "analysis", TAG_JOB, recording_id)  # the talent pool reads the new report
        return {"report_version": saved.version, "analyzers": {s["name"]: s["state"] for s in statuses.values()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def current_versions(app) -> dict[str, str]:
    """{name: version} of the analyzers this installation would run now."""
    settings = app.extensions["talentreel"].settings
    return {d["name"]: str(d.get("version")) for d in analyzers(app)
            if d.get("enabled", True) and not_chosen(d, settings) is None}


def outdated_recordings(app) -> list[tuple[int, dict]]:
    """Ready recordings whose latest report was produced by another version of an analyzer that is
    still enabled: [(recording id, {name: [old version, new version]})]. An analyzer that did not
    run (no consent, turned off) does not make a report outdated; consent is asked again anyway."""
    versions = current_versions(app)
    newest = (m.Report.select(m.Report.recording, pw.fn.MAX(m.Report.version).alias("newest"))
              .group_by(m.Report.recording).alias("newest_report"))
    rows = (m.Report.select(m.Report.recording, m.Report.analyzers)
            .join(newest, on=((m.Report.recording == newest.c.recording_id) & (m.Report.version == newest.c.newest)))
            .switch(m.Report).join(m.Recording).where(m.Recording.state == "ready").order_by(m.Report.recording))
    result = []
    for row in rows:
        changed = {name: [str(old), versions[name]] for name, old in (row.analyzers or {}).items()
                   if name in versions and str(old) != versions[name]}
        if changed:
            result.append((row.recording_id, changed))
    return result


def _waiting(recording_id: int) -> bool:
    return m.WorkItem.select().where(
        (m.WorkItem.func == JOB) & m.WorkItem.state.in_(("pending", "running"))
        & (m.WorkItem.args == pw.Value(f"[{recording_id}]", converter=False))).exists()


def enqueue_outdated(app, conn=None) -> list[int]:
    """Queue a new analysis of every outdated recording that has none waiting; return their ids.
    Idempotent: run twice (two workers starting, the timetable), it queues each recording once."""
    settings = app.extensions["talentreel"].settings
    queued = []
    for recording_id, changed in outdated_recordings(app):
        if _waiting(recording_id):
            continue
        log.info("recording %s: report made by older analyzers %s; analysing again", recording_id, changed)
        jobs.enqueue(settings, "analysis", JOB, recording_id, conn=conn)
        queued.append(recording_id)
    return queued


@job
def reanalyse_outdated() -> dict:
    """Maintenance: re-analyse recordings whose report an older analyzer version produced."""
    return {"queued": enqueue_outdated(get_app())}
