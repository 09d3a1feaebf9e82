"""Recordings: from a file on disk to a stored, encrypted original and a queued media job.

Every way in (browser upload, API upload, `talentreel ingest`, a migrator) ends here, so the
checks are the same for all: the content is probed (never trusted by its name), limits apply,
and nothing is stored for a refused file. The original is kept encrypted under
``recordings/<id>/original``; the media job derives the rest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import peewee as pw

from . import audit, jobs
from . import models as m
from .backups.hashing import HashingReader

MEDIA_JOB = "talentreel.workers.media.process_recording"
PICTURES_JOB = "talentreel.workers.media.make_pictures"

OUTPUT_NAMES = ("video.mp4", "poster.jpg", "sprite.jpg", "sprite.json")
"""Files the media jobs derive, all served to the replay: the video, then its pictures."""
PICTURE_NAMES = OUTPUT_NAMES[1:]
FORMER_OUTPUT_NAMES = ("audio.wav",)
"""Outputs older versions of the media job stored: removed when a recording is processed again,
moved between tiers and erased with the rest."""

ORIGINAL = "original"


def object_key(recording_id: int, name: str) -> str:
    return f"recordings/{recording_id}/{name}"


def _clean_name(name: str | None) -> str | None:
    """The client's file name, kept only as a label: no directories, no control characters."""
    if not name:
        return None
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or None


def ingest_file(state, path: Path, *, candidate: m.Candidate, interview: m.Interview | None = None,
                original_name: str | None = None, actor: m.User | None = None, source_ref: str | None = None,
                enqueue: bool = True) -> m.Recording:
    """Validate the file at `path`, store it encrypted and queue its media job.

    state: the app's TalentReel state (settings and store). source_ref: where the file came from
    (see models.Recording.source_ref); a recording already made from it is returned as it is.
    enqueue: queue the media job (False when the caller runs it itself, as the demo does).
    Raises MediaRejected (a ValidationError) with a message for the user; then no row and no
    object remain.
    """
    if source_ref:
        existing = m.Recording.get_or_none(m.Recording.source_ref == source_ref)
        if existing is not None:
            return existing
    from .media.probe import validate

    settings = state.settings
    info = validate(path, settings["max_upload_bytes"], settings["max_duration_seconds"])
    size = Path(path).stat().st_size
    recording = m.Recording.create(
        candidate=candidate, interview=interview, original_name=_clean_name(original_name),
        size_bytes=size, duration_seconds=info.duration, media={"probe": info.as_dict()}, source_ref=source_ref,
    )
    try:
        with open(path, "rb") as source:
            # Hashed as it is encrypted, so the media job need not read the whole original again.
            hashing = HashingReader(source)
            state.store.put(object_key(recording.id, ORIGINAL), hashing, candidate_id=candidate.id)
    except BaseException:
        recording.delete_instance()  # nothing half-stored: the store removed its own pieces
        raise
    # A crash before this line leaves sha256 empty; the media job then hashes the original itself.
    recording.sha256 = hashing.sha256
    m.Recording.update(sha256=recording.sha256).where(m.Recording.id == recording.id).execute()
    # No file name: it often names the candidate, and the trail outlives an erasure.
    audit.record("recording.create", recording, actor=actor, details={"size": size})
    if enqueue:
        jobs.enqueue(settings, "media", MEDIA_JOB, recording.id)
    return recording


def has_pictures(recording: m.Recording) -> bool:
    """Whether the recording's poster and sprite are stored: the pictures job lists them among
    the recording's files once they are (it runs after the recording became ready)."""
    files = (recording.media or {}).get("files") or {}
    return all(name in files for name in PICTURE_NAMES)


def progress_of(recording: m.Recording) -> dict | None:
    """The live progress of the recording's latest media job, for the UI."""
    args = pw.Value(json.dumps([recording.id]), converter=False)  # compare the stored JSON text as it is
    item = (m.WorkItem.select().where((m.WorkItem.func == MEDIA_JOB) & (m.WorkItem.args == args))
            .order_by(m.WorkItem.id.desc()).first())
    if item is None:
        return None
    return {"state": item.state, "attempts": item.attempts, **(item.progress or {})}


def complete_upload(state, upload: m.Upload, path: Path) -> int:
    """The ingest completion handler: a finished resumable upload becomes a recording. Keyed by
    the upload's token, so a crash between storing and answering cannot make a second one."""
    recording = ingest_file(state, path, candidate=upload.candidate, interview=upload.interview,
                            original_name=upload.filename, actor=upload.user, source_ref=f"upload:{upload.token}")
    return recording.id
