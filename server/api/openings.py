"""/openings: job requisitions, each owned by a department."""

from __future__ import annotations

from flask import g, jsonify, url_for

from .. import scoping
from .. import models as m
from ..i18n import _
from . import api_bp, serializers
from .access import own_department, require, visible_or_404
from .fields import Choice, Reference, Text, parse_body
from .pagination import page_of

OPENING_STATUSES = ("open", "closed")

FIELDS = {
    "title": Text("Job title.", max_length=200, required=True),
    "department_id": Reference("Department that owns the opening.", required=True),
    "status": Choice("Whether the opening takes candidates; closing it records closed_at.", OPENING_STATUSES),
}


def _apply(opening: m.Opening, values: dict) -> None:
    if "department_id" in values:
        dept = own_department("department_id", values["department_id"],
                              _("no department with id %(id)d", id=values["department_id"]))
        opening.department = dept
    if "title" in values:
        opening.title = values["title"]
    if "status" in values and values["status"] != opening.status:
        opening.status = values["status"]
        opening.closed_at = m.utcnow() if opening.status == "closed" else None


@api_bp.get("/openings")
def list_openings():
    require("opening.list")
    return jsonify(page_of(scoping.openings(g.user), m.Opening, "opening", lambda rows: [serializers.opening(o) for o in rows]))


@api_bp.post("/openings")
def create_opening():
    values = parse_body(FIELDS, creating=True)
    opening = m.Opening(organisation=g.user.organisation_id, status="open")
    _apply(opening, values)
    require("opening.create", opening)
    opening.save()
    response = jsonify(serializers.opening(opening))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_opening", opening_id=opening.id)
    return response


@api_bp.get("/openings/<api_id:opening_id>")
def get_opening(opening_id: int | None):
    return jsonify(serializers.opening(visible_or_404(m.Opening, opening_id, "opening")))


@api_bp.patch("/openings/<api_id:opening_id>")
def update_opening(opening_id: int | None):
    opening = visible_or_404(m.Opening, opening_id, "opening")
    require("opening.edit", opening)
    values = parse_body(FIELDS, creating=False)
    _apply(opening, values)
    # Asked again of the changed opening: moving it to a department outside the caller's reach
    # must be refused too.
    require("opening.edit", opening)
    opening.save()
    return jsonify(serializers.opening(opening))
