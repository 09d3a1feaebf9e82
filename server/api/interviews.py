"""/interviews: interviews of candidates, their questions and who conducts them."""

from __future__ import annotations

from flask import g, jsonify, url_for

from .. import scoping
from .. import models as m
from ..analysis import consent
from ..analysis.consent import NOTICE_VERSION_MAX
from ..i18n import _
from . import api_bp, serializers
from .access import require, visible_or_404, visible_reference
from .fields import MAX_ID, Boolean, Choice, DateTime, Reference, ReferenceList, Text, TextList, invalid, parse_body
from .pagination import page_of

INTERVIEW_STATUSES = ("scheduled", "completed", "cancelled")

FIELDS = {
    "candidate_id": Reference("The candidate interviewed; fixed once the interview exists.", required=True, immutable=True),
    "opening_id": Reference("The opening the interview is for, if any.", nullable=True),
    "scheduled_at": DateTime("When the interview takes place.", nullable=True),
    "questions": TextList("Questions in the order they are asked.", item=Text("A question.", max_length=2000, multiline=True),
                          max_items=100),
    "status": Choice("Where the interview stands.", INTERVIEW_STATUSES),
    "interviewer_ids": ReferenceList("Users (with the interviewer role) who conduct the interview; replaces the whole list.",
                                     max_items=20),
    # The candidate's consent: giving any of these adds a consent record (the latest counts); the
    # choices not given keep their current value, the notice version is required for a first record.
    "consent_notice_version": Text("Version of the privacy notice the candidate was shown when consenting.",
                                   max_length=NOTICE_VERSION_MAX),
    "consent_ai": Boolean("The candidate agreed to AI analysis (transcript, keywords, question alignment)."),
    "consent_vision_voice": Boolean("The candidate agreed to vision and voice analysis besides (needs consent_ai)."),
}

CONSENT_FIELDS = ("consent_notice_version", "consent_ai", "consent_vision_voice")


def _consent(interview: m.Interview, values: dict) -> dict | None:
    """The consent record the body asks for, checked; None when it names no consent field."""
    if not any(name in values for name in CONSENT_FIELDS):
        return None
    current = consent.latest_consent(interview) if interview.id else None
    version = values.get("consent_notice_version") or (current.notice_version if current else None)
    if version is None:
        raise invalid("consent_notice_version", _("required with the first consent record: the privacy notice version shown"))
    ai = values.get("consent_ai", current.ai if current else False)
    vision_voice = values.get("consent_vision_voice", current.vision_voice if current else False)
    if vision_voice and not ai:
        raise invalid("consent_vision_voice", _("vision and voice analysis needs consent to AI analysis too"))
    return {"notice_version": version, "ai": ai, "vision_voice": vision_voice}


def _interviewers(user_ids: list[int]) -> list[int]:
    """The ids, checked: active users of the caller's organisation who hold the interviewer role."""
    wanted = [uid for uid in user_ids if 1 <= uid <= MAX_ID]
    found = set()
    if wanted:
        found = {
            u.id
            for u in m.User.select(m.User.id)
            .join(m.UserRole)
            .where(
                m.User.id.in_(wanted)
                & (m.User.organisation == g.user.organisation_id)
                & (m.User.is_active == True)  # noqa: E712
                & (m.UserRole.role == "interviewer")
            )
        }
    for uid in user_ids:
        if uid not in found:
            raise invalid("interviewer_ids", _("no interviewer with id %(id)d", id=uid))
    return user_ids


def _apply(interview: m.Interview, values: dict) -> list[int] | None:
    """Set the interview's fields; return the new interviewer ids, or None when unchanged."""
    if "candidate_id" in values:
        interview.candidate = visible_reference(
            m.Candidate, "candidate", "candidate_id", values["candidate_id"],
            _("no candidate with id %(id)d", id=values["candidate_id"]))
    if "opening_id" in values:
        opening_id = values["opening_id"]
        interview.opening = None if opening_id is None else visible_reference(
            m.Opening, "opening", "opening_id", opening_id, _("no opening with id %(id)d", id=opening_id))
    for name in ("scheduled_at", "questions", "status"):
        if name in values:
            setattr(interview, name, values[name])
    if "interviewer_ids" in values:
        return _interviewers(values["interviewer_ids"])
    return None


def _save(interview: m.Interview, interviewer_ids: list[int] | None, consent_values: dict | None = None) -> None:
    with m.Interview._meta.database.atomic():
        interview.save()
        if consent_values is not None:
            consent.record(interview, g.user, **consent_values)
        if interviewer_ids is not None:
            m.InterviewInterviewer.delete().where(m.InterviewInterviewer.interview == interview).execute()
            for uid in interviewer_ids:
                m.InterviewInterviewer.create(interview=interview, user=uid)


@api_bp.get("/interviews")
def list_interviews():
    require("interview.list")
    return jsonify(page_of(scoping.interviews(g.user), m.Interview, "interview", serializers.interviews))


@api_bp.post("/interviews")
def create_interview():
    values = parse_body(FIELDS, creating=True)
    interview = m.Interview(status="scheduled", questions=[])
    interviewer_ids = _apply(interview, values)
    require("interview.create", interview)
    _save(interview, interviewer_ids or [], _consent(interview, values))
    response = jsonify(serializers.interview(interview))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_interview", interview_id=interview.id)
    return response


@api_bp.get("/interviews/<api_id:interview_id>")
def get_interview(interview_id: int | None):
    return jsonify(serializers.interview(visible_or_404(m.Interview, interview_id, "interview")))


@api_bp.patch("/interviews/<api_id:interview_id>")
def update_interview(interview_id: int | None):
    interview = visible_or_404(m.Interview, interview_id, "interview")
    require("interview.edit", interview)
    values = parse_body(FIELDS, creating=False)
    interviewer_ids = _apply(interview, values)
    _save(interview, interviewer_ids, _consent(interview, values))
    return jsonify(serializers.interview(interview))
