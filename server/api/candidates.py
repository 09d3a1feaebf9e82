"""/candidates: the people who apply and are interviewed.

Candidate data is personal data, so every read of one candidate and every change is written to the
audit trail. The trail is hash-chained and cannot be redacted later, so it records which fields
changed, never their values.
"""

from __future__ import annotations

from flask import g, jsonify, url_for

from .. import audit, scoping
from .. import models as m
from . import api_bp, serializers
from .access import require, visible_or_404
from .fields import Boolean, Email, Phone, Text, parse_body
from .pagination import page_of

FIELDS = {
    "name": Text("Full name.", max_length=200, required=True),
    "email": Email("E-mail address.", nullable=True),
    "phone": Phone("Telephone number.", nullable=True),
    "in_talent_pool": Boolean("Kept in the searchable talent pool for future openings."),
}


@api_bp.get("/candidates")
def list_candidates():
    require("candidate.list")
    return jsonify(page_of(scoping.candidates(g.user), m.Candidate, "candidate", lambda rows: [serializers.candidate(c) for c in rows]))


@api_bp.post("/candidates")
def create_candidate():
    values = parse_body(FIELDS, creating=True)
    candidate = m.Candidate(organisation=g.user.organisation_id, **values)
    require("candidate.create", candidate)
    with m.Candidate._meta.database.atomic():
        candidate.save()
        audit.record("candidate.create", candidate, actor=g.user, details={"fields": sorted(values)})
    response = jsonify(serializers.candidate(candidate))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_candidate", candidate_id=candidate.id)
    return response


@api_bp.get("/candidates/<api_id:candidate_id>")
def get_candidate(candidate_id: int | None):
    candidate = visible_or_404(m.Candidate, candidate_id, "candidate")
    audit.record("candidate.view", candidate, actor=g.user)
    return jsonify(serializers.candidate(candidate))


@api_bp.patch("/candidates/<api_id:candidate_id>")
def update_candidate(candidate_id: int | None):
    candidate = visible_or_404(m.Candidate, candidate_id, "candidate")
    require("candidate.edit", candidate)
    values = parse_body(FIELDS, creating=False)
    changed = sorted(name for name, value in values.items() if getattr(candidate, name) != value)
    if changed:
        for name in changed:
            setattr(candidate, name, values[name])
        with m.Candidate._meta.database.atomic():
            candidate.save(only=[getattr(m.Candidate, name) for name in changed])
            audit.record("candidate.edit", candidate, actor=g.user, details={"fields": changed})
    return jsonify(serializers.candidate(candidate))


@api_bp.delete("/candidates/<api_id:candidate_id>")
def delete_candidate(candidate_id: int | None):
    candidate = visible_or_404(m.Candidate, candidate_id, "candidate")
    require("candidate.delete", candidate)
    with m.Candidate._meta.database.atomic():
        audit.record("candidate.delete", candidate, actor=g.user)
        candidate.delete_instance()
    return "", 204
