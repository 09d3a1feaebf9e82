"""Recordings, read-only: they arrive by upload or migration, not through these routes."""

from __future__ import annotations

from flask import jsonify

from .. import models as m
from . import api_bp, serializers
from .access import visible_or_404
from .pagination import page_of_rows


@api_bp.get("/recordings/<api_id:recording_id>")
def get_recording(recording_id: int | None):
    return jsonify(serializers.recording(visible_or_404(m.Recording, recording_id, "recording")))


@api_bp.get("/candidates/<api_id:candidate_id>/recordings")
def list_candidate_recordings(candidate_id: int | None):
    candidate = visible_or_404(m.Candidate, candidate_id, "candidate")
    # A candidate has a handful of recordings, and who may see which depends on the interview
    # each belongs to, so all of them are checked and the total stays exact.
    rows = list(m.Recording.select().where(m.Recording.candidate == candidate).order_by(m.Recording.id))
    return jsonify(page_of_rows(rows, "recording", lambda page: [serializers.recording(r) for r in page]))
