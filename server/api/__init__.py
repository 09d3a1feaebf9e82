"""The REST API under /api/v1, authenticated by bearer tokens (see accounts.create_api_token)."""

from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

from .access import IdConverter  # noqa: E402

# Recorded before any route below, so the converter exists when their rules are bound.
api_bp.record_once(lambda state: state.app.url_map.converters.setdefault("api_id", IdConverter))

# Imported for their routes and hooks, which register themselves on api_bp.
from . import auth, errors  # noqa: E402,F401
from . import candidates, directory, interviews, openings, recordings, reviews, search  # noqa: E402,F401
from . import openapi  # noqa: E402,F401  last: it describes the modules above
