"""Built-in default permission policy: who sees what, by role.

Registered ``trylast`` so every other plugin votes first; any deny wins, so a plugin can narrow
this policy but this policy never overrides a plugin's "no". It only says yes (or abstains):

- ``hr``: every candidate, opening, interview, recording and report of the organisation;
- ``dept_head``: candidates who applied to (or were interviewed for) openings of their departments;
- ``interviewer``: interviews they are assigned to;
- every staff role: candidates explicitly granted to them (a Grant), beyond the role's reach;
- reviewers (every staff role that may view a report) may comment on it, rate it and give verdicts
  on its cues (``report.comment``, ``report.feedback``); ``hr`` sees and runs calibrations;
- interviewer calibration (``rater_calibration.view``: how each interviewer's ratings compare with
  their peers' and with the AI evidence; aggregates only, no candidate named): ``hr`` and
  ``it_admin`` for the whole organisation, ``dept_head`` for their departments' candidates (the
  page narrows the ratings it reads, server/review/raters.py); not interviewers, whose ratings
  are what it judges;
- ``candidate``: their own profile, export and erasure request, and the recordings HR shared with them;
- ``it_admin``: system settings and health, no candidate data unless also ``hr``.

Everything is read from the database at each call, or once for a batch of checks (a list or
search page, `permissions.visible`, hook talentreel_permission_prefetch), so a change of role,
department or grant takes effect on the next request.
"""

from __future__ import annotations

import datetime as dt

from talentreel.server import models as m
from talentreel.server.plugins import hookimpl
from talentreel.server.scoping import department_candidates

REVIEW_VERBS = {"comment", "feedback"}
"""Verbs on a report that reviewers who may read it may also perform: adding their own review."""

CANDIDATE_DATA = {"candidate", "interview", "recording", "report"}
HR_ONLY_VERBS = {"erase", "invite", "share", "export", "request_erasure"}
RATER_CALIBRATION_ROLES = {"hr", "it_admin", "dept_head"}
"""Roles that see interviewer calibration (the scope of each: server/review/raters.py)."""

SYSTEM_ACTIONS = {"admin.access", "system.health", "system.settings", "user.manage", "plugins.view", "audit.view", "jobs.manage",
                  "migrations.view"}


def _candidate_of(obj):
    if isinstance(obj, m.Candidate):
        return obj
    if isinstance(obj, (m.Interview, m.Recording)):
        return obj.candidate
    if isinstance(obj, m.Report):
        return obj.recording.candidate
    return None


def _interview_of(obj):
    if isinstance(obj, m.Interview):
        return obj
    if isinstance(obj, m.Recording):
        return obj.interview
    if isinstance(obj, m.Report):
        return obj.recording.interview
    return None


def _org_id(obj):
    if obj is None:
        return None
    if isinstance(obj, (m.Candidate, m.Opening, m.Department, m.User, m.Tag)):
        return obj.organisation_id
    candidate = _candidate_of(obj)
    return candidate.organisation_id if candidate else None


# --- one batch of checks (permissions.visible): read once for all rows ---------------------------

PREFETCH_KEY = "policy.candidates"


@hookimpl(trylast=True)
def talentreel_permission_prefetch(user, action, objs):
    """For a page of candidates, what the per-row checks below would each ask the database: which
    of them the user reaches through their departments, their interviews, and their grants."""
    cache = user.access_cache()
    kind = action.partition(".")[0]
    if cache is None or kind != "candidate" or not user.is_active:
        return
    ids = {obj.id for obj in objs if isinstance(obj, m.Candidate)}
    roles = user.roles
    if not ids or "hr" in roles or not roles - {"candidate"}:
        return  # HR needs no row read; a candidate's own file is decided from the row itself
    departments = user.department_ids
    reached_by_dept = set()
    if "dept_head" in roles and departments:
        # The same reach as the dept_head's candidate lists (scoping.department_candidates).
        rows = (m.Candidate.select(m.Candidate.id)
                .where(m.Candidate.id.in_(list(ids)) & department_candidates(m.Candidate.id, departments)).tuples())
        reached_by_dept.update(cid for (cid,) in rows)
    reached_by_interview = set()
    if "interviewer" in roles:
        rows = (m.InterviewInterviewer.select(m.Interview.candidate).join(m.Interview)
                .where((m.InterviewInterviewer.user == user) & m.Interview.candidate.in_(list(ids))).tuples())
        reached_by_interview.update(cid for (cid,) in rows)
    grants: dict[int, list] = {}
    for grant in _active_grants(user, ids):
        grants.setdefault(grant.candidate_id, []).append(grant)
    cache[PREFETCH_KEY] = {"ids": ids, "dept": reached_by_dept, "interview": reached_by_interview, "grants": grants}


def _prefetched(user, candidate):
    """What the batch read for this candidate, or None when it was not in a batch."""
    cache = user.access_cache()
    found = cache.get(PREFETCH_KEY) if cache is not None else None
    return found if found is not None and candidate is not None and candidate.id in found["ids"] else None


def dept_head_reaches(user, candidate) -> bool:
    prefetched = _prefetched(user, candidate)
    if prefetched is not None:
        return candidate.id in prefetched["dept"]
    departments = user.department_ids
    if not departments:
        return False
    applied = (
        m.Application.select()
        .join(m.Opening)
        .where((m.Application.candidate == candidate) & (m.Opening.department.in_(departments)))
        .exists()
    )
    return applied or (
        m.Interview.select()
        .join(m.Opening)
        .where((m.Interview.candidate == candidate) & (m.Opening.department.in_(departments)))
        .exists()
    )


def interviewer_assigned(user, interview) -> bool:
    return (
        interview is not None
        and m.InterviewInterviewer.select()
        .where((m.InterviewInterviewer.interview == interview) & (m.InterviewInterviewer.user == user))
        .exists()
    )


def interviewer_reaches_candidate(user, candidate) -> bool:
    prefetched = _prefetched(user, candidate)
    if prefetched is not None:
        return candidate.id in prefetched["interview"]
    return (
        m.InterviewInterviewer.select()
        .join(m.Interview)
        .where((m.InterviewInterviewer.user == user) & (m.Interview.candidate == candidate))
        .exists()
    )


GRANT_USE_TOUCH = dt.timedelta(hours=1)
"""A grant's last_used_at (which the access review reads) is written at most this often."""


def _active_grants(user, candidate_ids):
    now = m.utcnow()
    return list(
        m.Grant.select(m.Grant.id, m.Grant.candidate, m.Grant.permission, m.Grant.last_used_at)
        .where(
            (m.Grant.user == user)
            & (m.Grant.candidate.in_(list(candidate_ids)))
            & m.Grant.revoked_at.is_null()
            & (m.Grant.expires_at.is_null() | (m.Grant.expires_at > now))
        )
        .order_by(m.Grant.id)
    )


def active_grant(user, candidate, permission: str = "view") -> bool:
    allowed = ("view", "edit") if permission == "view" else ("edit",)
    now = m.utcnow()
    prefetched = _prefetched(user, candidate)
    grants = prefetched["grants"].get(candidate.id, []) if prefetched is not None else _active_grants(user, [candidate])
    grant = next((g for g in grants if g.permission in allowed), None)
    if grant is None:
        return False
    if grant.last_used_at is None or now - grant.last_used_at > GRANT_USE_TOUCH:
        # Used now: the access review tells grants in use from forgotten ones.
        m.Grant.update(last_used_at=now).where(m.Grant.id == grant.id).execute()
        grant.last_used_at = now  # a prefetched row is asked again within its batch: touch once
    return True


@hookimpl(trylast=True)
def talentreel_permission(user, action, obj):
    if not user.is_active:
        return False
    roles = user.roles
    kind, _, verb = action.partition(".")

    if action in SYSTEM_ACTIONS:
        if action == "audit.view":
            return True if roles & {"it_admin", "hr"} else None
        return True if "it_admin" in roles else None

    org = _org_id(obj)
    if org is not None and org != user.organisation_id:
        return False  # never across organisations, whatever the role

    if action == "rater_calibration.view":
        # Aggregates of ratings with no candidate named, so an IT admin sees no candidate data;
        # a dept_head's page reads only their departments' candidates' ratings.
        return True if roles & RATER_CALIBRATION_ROLES else None

    if action == "search.run" and roles & {"dept_head", "interviewer"}:
        return True  # the talent pool search; its results are scoped like candidate lists

    if "hr" in roles:
        return True if kind in CANDIDATE_DATA | {"opening", "department", "tag", "grant", "search", "calibration"} else None

    if kind == "opening":
        if verb in ("view", "list"):
            if "dept_head" in roles:
                return True if obj is None or obj.department_id in user.department_ids else None
        return None

    if kind in CANDIDATE_DATA:
        if obj is None:  # listing: each row is checked again, or the query is scoped (see scoping.py)
            # Candidates list nothing: their portal shows their own file (see portal/views.py).
            return True if verb == "list" and roles & {"dept_head", "interviewer"} else None
        candidate = _candidate_of(obj)
        if "candidate" in roles and candidate.user_id == user.id:
            # Their own file, their data-subject export and erasure request; of the recordings,
            # only those HR shared with them; never reports or reviewers' notes.
            if kind == "candidate" and verb in ("view", "export", "request_erasure"):
                return True
            if kind == "recording" and verb in ("view", "play") and obj.shared_with_candidate:
                return True
        if verb in HR_ONLY_VERBS:
            return None  # erasing, inviting, sharing and exporting stay with HR, whatever the grants
        read = verb in ("view", "list", "play") or (kind == "report" and verb in REVIEW_VERBS and bool(roles - {"candidate"}))
        if "dept_head" in roles and read and dept_head_reaches(user, candidate):
            return True
        if "interviewer" in roles and read:
            interview = _interview_of(obj)
            if interview is not None and interviewer_assigned(user, interview):
                return True
            if kind == "candidate" and interviewer_reaches_candidate(user, candidate):
                return True
        # An explicit grant reaches beyond any role's default reach (a candidate's own account aside).
        if roles - {"candidate"} and active_grant(user, candidate, "view" if read else "edit"):
            return True
    return None
