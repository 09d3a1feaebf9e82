"""Server-rendered pages for HR users, department heads and interviewers."""

from flask import Blueprint

web_bp = Blueprint("web", __name__)

from . import dashboard  # noqa: E402,F401  registers the views on web_bp
