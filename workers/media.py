"""Jobs of the `media` queue: turn a stored original into what replay and analysis need.

Two jobs, one after the other. `process_recording` makes video.mp4 and marks the recording
ready: from then on it plays. It queues `make_pictures`, which makes the poster and the
hover-scrubbing sprite from the stored video.mp4; the replay page shows them once they are there.
They were one job; making the pictures beside ffmpeg slowed a remux by a fifth on a 2-core
worker and held the replay back for them (docs/benchmarks.md, "Media job vs bare ffmpeg").

The jobs ask (this module), the engine works (talentreel.server.media.pipeline). Running either
twice leaves one set of outputs: each output has a fixed key and replaces the previous object,
and outputs a new run no longer makes (the analysis WAV older versions stored) are deleted.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import av
from rq import get_current_job

from talentreel.server import jobs, models as m
from talentreel.server.media import pipeline
from talentreel.server.media.faststart import open_relocated
from talentreel.server.media.ffmpeg import FfmpegCancelled
from talentreel.server.media.probe import MediaInfo, MediaRejected
from talentreel.server.recordings import FORMER_OUTPUT_NAMES, ORIGINAL, PICTURES_JOB, object_key
from talentreel.server.write_behind import WriteBehind

from .base import JobCancelled, get_app, job, report_progress, scratch_dir, settings

log = logging.getLogger("talentreel.workers.media")

WRITE_SEGMENTS = 16
"""Verified plaintext segments (64 KiB) handed to the kernel in one writev: 1 MiB per call."""

ANALYSIS_JOB = "talentreel.workers.analysis.analyze_recording"


CANCEL_CHECK_SECONDS = 1.0


def _cancel_check():
    """A cancel callable for the engine: true once someone asked to cancel this job (the console
    sets `cancel_requested` in the job's meta). Redis is asked at most once a second."""
    current = get_current_job()
    last = {"at": 0.0, "value": False}

    def cancelled() -> bool:
        if current is None or last["value"]:
            return last["value"]
        now = time.monotonic()
        if now - last["at"] >= CANCEL_CHECK_SECONDS:
            last["at"] = now
            last["value"] = bool(current.get_meta(refresh=True).get("cancel_requested"))
        return last["value"]

    return cancelled


def _decrypt_to(store, key: str, target) -> None:
    """Write the object's plaintext into the file `target`. Segments go to the file as they are
    verified, several per writev, rather than joined into larger reads and copied once more, and
    the writes run behind the decryption in a thread of their own (write_behind.py): 58 MB took
    30 ms joined, 26 ms in batches and 18 ms written behind, a step ffmpeg waits for."""
    with store.open_range(key) as segments, open(target, "wb", buffering=0) as out, WriteBehind(out.fileno()) as behind:
        batch: list = []
        for segment in segments:
            batch.append(segment)
            if len(batch) == WRITE_SEGMENTS:
                behind.submit(batch)
                batch = []
        behind.submit(batch)


def _store_video(store, recording, video: Path, relocation, removals: list) -> None:
    """Store video.mp4 encrypted under the recording's keys. It is read here in full to be
    encrypted, its index moved to the front on the way instead of in a second pass of ffmpeg's
    over the file (faststart.py); then its plaintext copy is removed beside the job's end."""
    with open_relocated(video, relocation) as fh:
        store.put(object_key(recording.id, pipeline.VIDEO), fh, candidate_id=recording.candidate_id)
    removals.append(_remove_beside(video))


def _validated_probe(recording) -> MediaInfo | None:
    """The probe ingest stored after validating the original whole (recordings.ingest_file), or
    None when there is none this version can read: the engine then probes and checks again.
    Storage authenticates every byte of the original, so it is still the file that was checked."""
    try:
        return MediaInfo.from_dict((recording.media or {})["probe"])
    except (KeyError, TypeError, ValueError):
        return None


def _remove_beside(path: Path) -> threading.Thread:
    """Remove a scratch file in a thread while the job goes on; the job joins it before it ends.
    Freeing a 60 MB file's blocks keeps ext4 busy for about 10 ms, which the unlink does without
    the GIL, so it overlaps with the encrypting and storing that follow, on the core ffmpeg
    no longer uses."""
    removal = threading.Thread(target=path.unlink, kwargs={"missing_ok": True}, daemon=True, name="media-remove")
    removal.start()
    return removal


@job
def process_recording(recording_id: int) -> dict:
    state = get_app().extensions["talentreel"]
    recording = m.Recording.get_by_id(recording_id)
    if recording.state != "processing":
        recording.transition("processing")
    store = state.store
    work = scratch_dir("media", recording_id)
    removals: list[threading.Thread] = []
    try:
        source = work / "original"
        _decrypt_to(store, object_key(recording_id, ORIGINAL), source)
        report_progress(0.02, "probing")
        try:
            # An original stored by ingest_file was hashed then; only older ones (stored before
            # that, or by a run that died between storing and recording the hash) are hashed here.
            result = pipeline.process(source, work / "out", progress=lambda f: report_progress(0.05 + 0.9 * f, "converting"),
                                      cancel=_cancel_check(), timeout=settings()["job_timeout_seconds"],
                                      hash_source=not recording.sha256, faststart_on_read=True,
                                      info=_validated_probe(recording))
        except FfmpegCancelled:
            recording.transition("failed", error="cancelled")
            raise JobCancelled(f"recording {recording_id}: processing cancelled") from None
        except MediaRejected as exc:
            # The file itself is unusable: retrying cannot help, so fail without raising.
            recording.transition("failed", error=str(exc))
            return {"state": "failed", "error": str(exc)}
        report_progress(0.96, "storing")
        removals.append(_remove_beside(source))  # the plaintext original is read no more
        _store_video(store, recording, work / "out" / pipeline.VIDEO, result["relocation"], removals)
        for name in FORMER_OUTPUT_NAMES:
            store.delete(object_key(recording_id, name))
        recording = m.Recording.get_by_id(recording_id)
        media = recording.media or {}
        # The pictures of an earlier run stay listed (and stored) until the pictures job
        # replaces them: they show the same original.
        pictures = {name: size for name, size in (media.get("files") or {}).items() if name in pipeline.PICTURE_NAMES}
        recording.sha256 = result["sha256"] or recording.sha256
        recording.duration_seconds = result["output"].get("duration") or recording.duration_seconds
        recording.media = dict(media, **{
            "how": result["how"], "video": result["video"], "audio": result["audio"], "input": result["input"],
            "output": result["output"], "files": dict(pictures, **result["files"]), "seconds": result["seconds"],
        })
        recording.save()
        recording.transition("ready")
        report_progress(1.0, "ready")
        jobs.enqueue(settings(), "media", PICTURES_JOB, recording_id)
        jobs.enqueue(settings(), "analysis", ANALYSIS_JOB, recording_id)
        return {"state": "ready", "how": result["how"]}
    except Exception as exc:
        recording = m.Recording.get_by_id(recording_id)
        if recording.state == "processing":
            recording.transition("failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    finally:
        for removal in removals:
            removal.join()
        shutil.rmtree(work, ignore_errors=True)


@job
def make_pictures(recording_id: int) -> dict:
    """Poster and thumbnail sprite of a ready recording, from its stored video.mp4.

    The recording stays ready whatever happens here: a replay plays without its pictures. A
    failure is recorded on the job (and retried as jobs are); the previous pictures, if any, stay.
    """
    state = get_app().extensions["talentreel"]
    recording = m.Recording.get_or_none(m.Recording.id == recording_id)
    if recording is None or recording.state != "ready":
        # Erased, or being processed again (that run queues its own pictures job).
        return {"skipped": "recording is gone" if recording is None else f"recording is {recording.state}"}
    store = state.store
    work = scratch_dir("pictures", recording_id)
    try:
        video = work / pipeline.VIDEO
        _decrypt_to(store, object_key(recording_id, pipeline.VIDEO), video)
        report_progress(0.3, "pictures")
        try:
            result = pipeline.make_pictures(video, work / "out", duration=recording.duration_seconds or None)
        except av.error.FFmpegError as exc:
            # No picture decodes from a video that plays (ffmpeg made it): retrying cannot help.
            log.warning("recording %s: no poster or sprite: %s", recording_id, exc)
            return {"failed": str(exc)}
        for name in pipeline.PICTURE_NAMES:
            with open(work / "out" / name, "rb") as fh:
                store.put(object_key(recording_id, name), fh, candidate_id=recording.candidate_id)
        with m.Recording._meta.database.atomic():
            recording = m.Recording.get_by_id(recording_id)
            media = recording.media or {}
            recording.media = dict(media, files=dict(media.get("files") or {}, **result["files"]), pictures_seconds=result["seconds"])
            recording.save(only=[m.Recording.media])
        report_progress(1.0, "ready")
        return {"pictures": sorted(result["files"])}
    finally:
        shutil.rmtree(work, ignore_errors=True)
