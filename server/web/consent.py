"""The candidate's consent to analysis, recorded on an interview: when it is scheduled (the
"new interview" form) or later (the interview page). AI analysis and vision/voice analysis are
separate choices, each under the version of the privacy notice the candidate was shown."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from .. import models as m
from ..analysis import consent as consent_mod
from ..i18n import _, lazy_gettext
from ..permissions import login_required, require
from . import web_bp
from .submissions import Submission

CHOICES = {"ai": lazy_gettext("AI analysis (transcript, keywords, question alignment)"),
           "vision_voice": lazy_gettext("Vision and voice analysis (face, attention, movement, pauses, pitch)")}


def read(form: Submission, *, required: bool) -> dict | None:
    """The consent fields of a form: {notice_version, ai, vision_voice}, or None when the form
    records no consent (no notice version and nothing ticked, where consent is optional)."""
    version = form.text("consent_notice_version", max_length=consent_mod.NOTICE_VERSION_MAX)
    chosen = set(form.raw_list("consent")) & set(CHOICES)
    if not version:
        if chosen or required:
            form.fail("consent_notice_version", _("Name the version of the privacy notice the candidate was shown."))
        return None
    return {"notice_version": version, "ai": "ai" in chosen, "vision_voice": "vision_voice" in chosen}


@web_bp.post("/interviews/<int:interview_id>/consent")
@login_required
def interview_consent(interview_id: int):
    from .interviews import interview_detail, visible_interview

    interview = visible_interview(interview_id)
    require("interview.edit", interview)
    form = Submission(request.form)
    values = read(form, required=True)
    if not form.ok:
        return interview_detail(interview_id, consent_form=form), 400
    consent_mod.record(interview, g.user, **values)
    flash(_("The candidate's consent was recorded."))
    return redirect(url_for("web.interview_detail", interview_id=interview.id) + "#consent")


def page_context(interview: m.Interview, form: Submission | None = None) -> dict:
    latest = consent_mod.latest_consent(interview)
    history = list(m.InterviewConsent.select().where(m.InterviewConsent.interview == interview)
                   .order_by(m.InterviewConsent.recorded_at.desc(), m.InterviewConsent.id.desc()))
    if form is None:
        defaults = {"consent_notice_version": latest.notice_version if latest else ""}
        form = _Prefilled(defaults, [k for k in CHOICES if latest is not None and getattr(latest, k)])
    return {"consent": latest, "consent_history": history, "consent_form": form, "consent_choices": CHOICES}


class _Prefilled(Submission):
    """The consent form filled with the latest record, so a change starts from what holds now."""

    def __init__(self, values: dict, ticked: list[str]):
        super().__init__(values)
        self._ticked = ticked

    def raw_list(self, name: str) -> list[str]:
        return list(self._ticked) if name == "consent" else []

