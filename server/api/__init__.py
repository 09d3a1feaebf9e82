"""The REST API under /api/v1, authenticated by bearer tokens (see accounts.create_api_token)."""

from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
