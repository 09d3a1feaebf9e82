"""Which analyzers may run on a recording, and with which thresholds.

Human in charge: an analyzer runs only where the organisation turned its kind of analysis on
(`settings["analysis"]` of the organisation: `ai` and `vision_voice`, both on unless turned off)
AND the candidate consented to it for this interview (an InterviewConsent row: the notice version
shown, AI analysis, and vision/voice analysis as a separate choice). Without a consent record
nothing runs, unless the organisation set `consent_required` to false (e.g. it records consent
outside TalentReel). `allowed_for` returns, per analyzer, None or the reason it may not run, and
the report keeps that reason.
"""

from __future__ import annotations

from typing import Callable

from .. import audit
from .. import models as m

ORG_DEFAULTS = {"ai": True, "vision_voice": True, "consent_required": True}

NOTICE_VERSION_MAX = 50


def org_switches(organisation: m.Organisation) -> dict:
    return {**ORG_DEFAULTS, **((organisation.settings or {}).get("analysis") or {})}


def latest_consent(interview: m.Interview | None) -> m.InterviewConsent | None:
    if interview is None:
        return None
    return (m.InterviewConsent.select().where(m.InterviewConsent.interview == interview)
            .order_by(m.InterviewConsent.recorded_at.desc(), m.InterviewConsent.id.desc()).first())


def record(interview: m.Interview, user: m.User | None, notice_version: str, ai: bool, vision_voice: bool) -> m.InterviewConsent:
    """Add a consent record (the latest counts); vision/voice needs AI analysis, so it implies it
    only where the candidate agreed to both, and never without."""
    consent = m.InterviewConsent.create(interview=interview, recorded_by=user, notice_version=notice_version,
                                        ai=bool(ai), vision_voice=bool(ai) and bool(vision_voice))
    audit.record("interview.consent", interview, actor=user,
                 details={"notice_version": notice_version, "ai": consent.ai, "vision_voice": consent.vision_voice})
    return consent


def summary(consent: m.InterviewConsent | None) -> dict | None:
    if consent is None:
        return None
    return {"notice_version": consent.notice_version, "ai": consent.ai, "vision_voice": consent.vision_voice,
            "recorded_at": consent.recorded_at.replace(tzinfo=None).isoformat() + "Z"}


def allowed_for(recording: m.Recording) -> Callable[[dict], str | None]:
    switches = org_switches(recording.candidate.organisation)
    consent = latest_consent(recording.interview)

    def allowed(description: dict) -> str | None:
        if description.get("enabled") is False:
            return "not configured in this installation"
        kind = description.get("consent", "ai")
        if not switches.get("ai", True):
            return "the organisation turned AI analysis off"
        if kind == "vision_voice" and not switches.get("vision_voice", True):
            return "the organisation turned vision and voice analysis off"
        if not switches.get("consent_required", True):
            return None
        if consent is None:
            return ("no consent recorded for this interview" if recording.interview_id
                    else "no consent recorded: the recording belongs to no interview")
        if not consent.ai:
            return f"the candidate did not consent to AI analysis (notice version {consent.notice_version})"
        if kind == "vision_voice" and not consent.vision_voice:
            return f"the candidate did not consent to vision and voice analysis (notice version {consent.notice_version})"
        return None

    return allowed


def thresholds(recording: m.Recording) -> dict:
    """The organisation's calibrated thresholds (e.g. hesitation seconds), defaults otherwise."""
    return dict((recording.candidate.organisation.settings or {}).get("thresholds") or {})
