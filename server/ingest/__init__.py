"""Ingest: recordings arriving by resumable upload (tus 1.0.0), from browsers and from the API.

- tus.py speaks the protocol, on /uploads/ (browser session + CSRF) and /api/v1/uploads/ (token);
- parts.py streams the bytes to part files under DATA_DIR/uploads/, durable before acknowledged;
- metadata.py reads the client's Upload-Metadata (file name and type are kept as labels only);
- completion.py hands a finished upload to the application's completion handler, which
  validates, stores and records it;
- cleanup.py removes abandoned uploads and orphan part files (the maintenance job calls it);
- static/upload.js is the browser's tus client.

Wiring, in create_app: `ingest.init_app(app)` and `ingest.register_completion_handler(app, func)`.
"""

from __future__ import annotations

from flask import Flask

from .cleanup import UPLOAD_MAX_AGE, remove_abandoned_uploads  # noqa: F401  the maintenance job's entry
from .completion import register_completion_handler  # noqa: F401


def init_app(app: Flask) -> None:
    """Register the upload blueprints on `app` (once; calling again does nothing)."""
    from . import tus

    for blueprint in (tus.browser_bp, tus.api_bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
