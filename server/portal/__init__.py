"""The candidate portal: a candidate's own replays (those HR shared) and feedback, a download of
all their data (data-subject access), and their request to be erased. HR's side of it - inviting,
sharing, erasing - lives in web/privacy.py."""

from flask import Blueprint

portal_bp = Blueprint("portal", __name__, url_prefix="/portal")

from . import views  # noqa: E402,F401  (routes register on import)
