"""Machine-readable endpoints under /-/: plugins and health."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .permissions import login_required, require
from .plugins import describe_plugins

meta_bp = Blueprint("meta", __name__, url_prefix="/-")


@meta_bp.get("/plugins.json")
@login_required
def plugins_json():
    # Names and versions of what runs: system information for IT admins, not for everyone.
    require("plugins.view")
    return jsonify(describe_plugins(current_app.extensions["talentreel"].plugins))


@meta_bp.get("/health")
def health():
    """Liveness and database reachability, for load balancers and docker health checks."""
    db = current_app.extensions["talentreel"].database
    db.execute_sql("SELECT 1")
    return jsonify({"status": "ok"})
