"""Who the caller is and the departments of their organisation."""

from __future__ import annotations

from flask import g, jsonify

from .. import models as m
from . import api_bp, serializers
from .access import require
from .pagination import page_of


@api_bp.get("/me")
def me():
    return jsonify(serializers.me(g.user))


@api_bp.get("/departments")
def list_departments():
    require("department.list")
    query = m.Department.select().where(m.Department.organisation == g.user.organisation_id)
    # Departments have no per-object view permission; department.list covers them all.
    return jsonify(page_of(query, m.Department, None, lambda rows: [serializers.department(d) for d in rows]))
