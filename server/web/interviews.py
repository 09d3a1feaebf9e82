"""Interview pages: upcoming and past interviews, one interview with its questions, and scheduling one."""

from __future__ import annotations

import datetime as dt

import peewee as pw
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import get_timezone

from .. import audit, scoping
from .. import models as m
from ..errors import NotFound
from ..i18n import _
from ..permissions import can, login_required, require
from . import web_bp
from .listing import visible, visible_page
from .openings import open_openings
from ..analysis.consent import record as record_consent
from .consent import CHOICES as CONSENT_CHOICES, read as read_consent
from .submissions import Submission

WHEN_FILTERS = ("upcoming", "past", "all")

STILL_UPCOMING = dt.timedelta(hours=1)
"""An interview that began less than this long ago is probably under way: it stays among the
upcoming ones, where its interviewers look for it."""


def upcoming_from() -> dt.datetime:
    return m.utcnow() - STILL_UPCOMING


def visible_interview(interview_id: int) -> m.Interview:
    interview = m.Interview.get_or_none(m.Interview.id == interview_id)
    if interview is None or not can(g.user, "interview.view", interview):
        raise NotFound(f"interview {interview_id}")
    return interview


def interviewers_of(interviews) -> dict[int, list[m.User]]:
    """Per interview id, its interviewers (one query for the page)."""
    ids = [i.id for i in interviews]
    if not ids:
        return {}
    rows = (
        m.InterviewInterviewer.select(m.InterviewInterviewer, m.User)
        .join(m.User)
        .where(m.InterviewInterviewer.interview.in_(ids))
        .order_by(m.User.display_name)
    )
    result: dict[int, list[m.User]] = {}
    for row in rows:
        result.setdefault(row.interview_id, []).append(row.user)
    return result


def listed_interviews(user):
    """The interviews the user may list, each with its candidate and opening loaded in the same query."""
    return (
        scoping.interviews(user)
        .select_extend(m.Candidate, m.Opening)
        .switch(m.Interview)
        .join(m.Opening, pw.JOIN.LEFT_OUTER)
    )


@web_bp.get("/interviews")
@login_required
def interview_list():
    require("interview.list")
    when = request.args.get("when", "upcoming")
    if when not in WHEN_FILTERS:
        when = "upcoming"
    query = listed_interviews(g.user)
    boundary = upcoming_from()
    if when == "upcoming":
        # Soonest first: the next interview is the one to prepare for.
        query = query.where(m.Interview.scheduled_at >= boundary).order_by(m.Interview.scheduled_at, m.Interview.id)
    elif when == "past":
        query = query.where(m.Interview.scheduled_at < boundary).order_by(m.Interview.scheduled_at.desc(), m.Interview.id.desc())
    else:
        query = query.order_by(m.Interview.scheduled_at.desc(nulls="LAST"), m.Interview.id.desc())
    page = visible_page(query, "interview.view")
    return render_template(
        "interviews/list.html", page=page, when=when, whens=WHEN_FILTERS, interviewers=interviewers_of(page.rows)
    )


@web_bp.get("/interviews/<int:interview_id>")
@login_required
def interview_detail(interview_id: int, consent_form=None):
    from .consent import page_context

    interview = visible_interview(interview_id)
    recordings = visible(interview.recordings.order_by(m.Recording.created_at.desc()), "recording.view")
    return render_template(
        "interviews/detail.html", interview=interview, interviewers=interviewers_of([interview]).get(interview.id, []),
        recordings=recordings, can_edit=can(g.user, "interview.edit", interview), **page_context(interview, consent_form),
    )


def _schedulable_candidates() -> dict[str, m.Candidate]:
    query = scoping.candidates(g.user).order_by(m.Candidate.name, m.Candidate.id)
    return {str(c.id): c for c in query if can(g.user, "candidate.view", c)}


def _possible_interviewers() -> dict[str, m.User]:
    # Only the interviewer role gives access through an interview assignment (plugins/policy.py);
    # offering anyone else would schedule people who then cannot open the interview.
    query = (
        m.User.select()
        .join(m.UserRole)
        .where((m.User.organisation == g.user.organisation_id) & m.User.is_active & (m.UserRole.role == "interviewer"))
        .order_by(m.User.display_name)
    )
    return {str(u.id): u for u in query}


@web_bp.route("/interviews/new", methods=["GET", "POST"])
@login_required
def interview_new():
    require("interview.create")
    candidates = _schedulable_candidates()
    openings = open_openings()
    interviewers = _possible_interviewers()
    # "Schedule an interview" on a candidate's page arrives with the candidate chosen.
    form = Submission(request.form if request.method == "POST" else {"candidate": request.args.get("candidate", "")})
    if request.method == "POST":
        candidate = form.choice("candidate", candidates, missing=_("Choose the candidate to interview."))
        opening = form.choice("opening", openings, required=False)
        scheduled_at = form.moment("scheduled_at")
        chosen = form.choices("interviewers", interviewers)
        questions = form.lines("questions")
        consent = read_consent(form, required=False)
        if form.ok:
            with m.Interview._meta.database.atomic():
                interview = m.Interview.create(candidate=candidate, opening=opening, scheduled_at=scheduled_at, questions=questions)
                for user in chosen:
                    m.InterviewInterviewer.create(interview=interview, user=user)
                if opening is not None:
                    # Interviewing for an opening puts the candidate on it, so the opening's
                    # candidate count and its department head see them.
                    m.Application.get_or_create(candidate=candidate, opening=opening)
                if consent is not None:
                    record_consent(interview, g.user, **consent)
            audit.record("interview.create", interview)
            flash(_("The interview with %(name)s was scheduled.", name=candidate.name))
            return redirect(url_for("web.interview_detail", interview_id=interview.id))
    return render_template(
        "interviews/new.html", form=form, candidates=candidates, openings=openings, interviewers=interviewers,
        consent_choices=CONSENT_CHOICES,
        timezone=str(get_timezone()),
    ), (400 if form.errors else 200)
