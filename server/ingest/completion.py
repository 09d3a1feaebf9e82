"""What happens when the last byte of an upload is on disk.

The protocol side knows nothing of probing, encryption or jobs: the application registers one
completion handler, `handler(upload, part_path) -> recording id`, which validates the file by
probing it, stores it (encrypted), creates the Recording row and enqueues the media job. It
raises talentreel.server.errors.ValidationError, with a message for the user, to refuse the file.

The handler copies or moves the part file; either way the part file is gone afterwards, so a
refused file leaves nothing behind. Any other exception is a server fault, not the file's: the
part file stays and the client may retry the completion (an empty PATCH at the final offset).
The handler runs while the part file's lock is held, so it is never called twice at once for
one upload; to survive a crash between storing and answering, it may use `upload.token` to
recognise an upload it has already turned into a recording.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from flask import Flask

from .. import models as m
from ..errors import ValidationError

log = logging.getLogger("talentreel.ingest")

EXTENSION_KEY = "talentreel_ingest"

CompletionHandler = Callable[[m.Upload, Path], int]


def register_completion_handler(app: Flask, func: CompletionHandler) -> None:
    """Make `func` the completion handler of `app` (replacing any earlier one)."""
    app.extensions.setdefault(EXTENSION_KEY, {})["completion_handler"] = func


def completion_handler(app: Flask) -> CompletionHandler:
    func = app.extensions.get(EXTENSION_KEY, {}).get("completion_handler")
    if func is None:
        # A configuration fault: without a handler a finished upload would be lost, so refuse loudly.
        raise RuntimeError("no ingest completion handler is registered (see talentreel.server.ingest.register_completion_handler)")
    return func


def finish(app: Flask, upload: m.Upload, path: Path) -> int:
    """Turn a fully received upload into a recording; return its id.

    Called with the part file locked. Idempotent: a completed upload returns its recording
    again. A refused one is marked failed (with the handler's message) and ValidationError
    is raised again.
    """
    if upload.state == "complete":
        return upload.recording_id
    if upload.state == "failed":
        raise ValidationError(upload.error)
    handler = completion_handler(app)
    try:
        recording_id = handler(upload, path)
    except ValidationError as exc:
        path.unlink(missing_ok=True)
        _mark(upload, state="failed", error=str(exc))
        raise
    except Exception:
        log.exception("upload %s: the completion handler failed; the part file is kept for a retry", upload.token)
        raise
    if not isinstance(recording_id, int) or isinstance(recording_id, bool):
        raise TypeError(f"the completion handler returned {recording_id!r}, not a recording id")
    path.unlink(missing_ok=True)
    _mark(upload, state="complete", recording=recording_id)
    return recording_id


def _mark(upload: m.Upload, **fields) -> None:
    fields["updated_at"] = m.utcnow()
    m.Upload.update(**fields).where(m.Upload.id == upload.id).execute()
    for name, value in fields.items():
        setattr(upload, name if name != "recording" else "recording_id", value)
