"""The data-subject access export: everything TalentReel holds about one candidate, as a ZIP.

data.json has the candidate's file (profile, applications, interviews with the questions and the
feedback given, recordings' details, analysis reports, tags with their evidence, notes); media/
has each recording's replay video and documents/ the documents, decrypted. Built in a temporary
file (recordings are large), streamed, then removed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile

from flask import current_app

from .. import models as m
from ..recordings import object_key

COPY_BUFFER = 1024 * 1024


def _iso(value):
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def _row(model, fields):
    return {f: _iso(getattr(model, f)) for f in fields}


def candidate_data(candidate: m.Candidate) -> dict:
    data = {
        "exported_at": m.utcnow().isoformat(),
        "candidate": _row(candidate, ("id", "name", "email", "phone", "in_talent_pool", "created_at")),
        "applications": [dict(_row(a, ("status", "created_at")), opening=a.opening.title)
                         for a in candidate.applications],
        "interviews": [dict(_row(i, ("id", "scheduled_at", "status", "questions", "candidate_feedback")),
                            opening=i.opening.title if i.opening else None) for i in candidate.interviews],
        "recordings": [],
        "tags": [],
        "notes": [_row(n, ("text", "created_at")) for n in candidate.notes],
        "documents": [_row(d, ("id", "name", "content_type", "size_bytes", "created_at")) for d in candidate.documents],
    }
    for recording in candidate.recordings:
        reports = [dict(version=r.version, created_at=_iso(r.created_at), data=r.data)
                   for r in m.Report.select().where(m.Report.recording == recording).order_by(m.Report.version)]
        data["recordings"].append(dict(_row(recording, ("id", "original_name", "duration_seconds", "state", "created_at")),
                                       reports=reports))
    for candidate_tag in candidate.tags:
        data["tags"].append({"tag": candidate_tag.tag.name, "score": candidate_tag.score, "source": candidate_tag.source,
                             "evidence": [_row(e, ("start_seconds", "end_seconds", "note")) | {"recording": e.recording_id}
                                          for e in candidate_tag.evidence]})
    return data


def build_zip(candidate: m.Candidate):
    """A temporary file holding the ZIP, positioned at its start (the caller closes it)."""
    store = current_app.extensions["talentreel"].store
    out = tempfile.TemporaryFile(prefix="talentreel-export-")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(candidate_data(candidate), ensure_ascii=False, indent=2, default=str))
        for recording in candidate.recordings.where(m.Recording.state == "ready"):
            key = object_key(recording.id, "video.mp4")
            if store.exists(key):
                with store.open(key) as plain, archive.open(f"media/recording-{recording.id}.mp4", "w", force_zip64=True) as target:
                    shutil.copyfileobj(plain, target, COPY_BUFFER)
        for document in candidate.documents:
            if document.object_key and store.exists(document.object_key):
                with store.open(document.object_key) as plain, archive.open(f"documents/{document.id}-{document.name}", "w",
                                                                            force_zip64=True) as target:
                    shutil.copyfileobj(plain, target, COPY_BUFFER)
    out.seek(0)
    return out
