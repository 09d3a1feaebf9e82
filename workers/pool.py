"""Jobs feeding the talent pool: after each analysis, tags and the transcript index of the recording."""

from __future__ import annotations

from talentreel.server import models as m
from talentreel.server.pool import tagging

from .base import get_app, job

TAG_JOB = "talentreel.workers.pool.tag_recording"


@job
def tag_recording(recording_id: int) -> dict:
    recording = m.Recording.get_or_none(m.Recording.id == recording_id)
    if recording is None:
        return {"skipped": "the recording was deleted"}
    return tagging.tag_recording(get_app(), recording)
