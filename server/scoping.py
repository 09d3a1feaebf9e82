"""Queries scoped to what a user may see, for list pages and list endpoints.

Listing every row and asking the permission hook about each does not scale, so lists start from
these queries, which mirror the default policy (plugins/policy.py); each row shown is still passed
through `permissions.can`, so a plugin's deny always wins. tests/test_scoping.py checks that the
scopes and the policy agree.
"""

from __future__ import annotations

import peewee as pw

from . import models as m


def _active_grant_candidates(user):
    now = m.utcnow()
    return m.Grant.select(m.Grant.candidate).where(
        (m.Grant.user == user) & m.Grant.revoked_at.is_null() & (m.Grant.expires_at.is_null() | (m.Grant.expires_at > now))
    )


def department_candidates(column, department_ids) -> pw.Expression:
    """`column` (a candidate id) names a candidate who applied to, or was interviewed for, an
    opening of one of the departments: a dept_head's reach (plugins/policy.py, dept_head_reaches)."""
    depts = list(department_ids)
    applied = m.Application.select(m.Application.candidate).join(m.Opening).where(m.Opening.department.in_(depts))
    interviewed = m.Interview.select(m.Interview.candidate).join(m.Opening).where(m.Opening.department.in_(depts))
    return column.in_(applied) | column.in_(interviewed)


def organisation_wide(roles) -> bool:
    """Whether a user of these roles gets the whole organisation from `candidates`, no narrower scope."""
    return "hr" in roles


def candidates(user) -> pw.ModelSelect:
    base = m.Candidate.select().where(m.Candidate.organisation == user.organisation_id)
    roles = user.roles
    if organisation_wide(roles):
        return base
    allowed = []
    if "dept_head" in roles and user.department_ids:
        allowed.append(department_candidates(m.Candidate.id, user.department_ids))
    if "interviewer" in roles:
        allowed.append(m.Candidate.id.in_(
            m.Interview.select(m.Interview.candidate).join(m.InterviewInterviewer).where(m.InterviewInterviewer.user == user)))
    if roles - {"candidate"}:
        allowed.append(m.Candidate.id.in_(_active_grant_candidates(user)))
    if "candidate" in roles:
        allowed.append(m.Candidate.user == user)
    if not allowed:
        return base.where(pw.SQL("1 = 0"))
    condition = allowed[0]
    for extra in allowed[1:]:
        condition = condition | extra
    return base.where(condition)


def interviews(user) -> pw.ModelSelect:
    base = m.Interview.select().join(m.Candidate).where(m.Candidate.organisation == user.organisation_id)
    roles = user.roles
    if "hr" in roles:
        return base
    allowed = []
    if "dept_head" in roles and user.department_ids:
        allowed.append(department_candidates(m.Interview.candidate, user.department_ids))
    if "interviewer" in roles:
        allowed.append(m.Interview.id.in_(
            m.InterviewInterviewer.select(m.InterviewInterviewer.interview).where(m.InterviewInterviewer.user == user)))
    if roles - {"candidate"}:
        allowed.append(m.Interview.candidate.in_(_active_grant_candidates(user)))
    if not allowed:
        return base.where(pw.SQL("1 = 0"))
    condition = allowed[0]
    for extra in allowed[1:]:
        condition = condition | extra
    return base.where(condition)


def openings(user) -> pw.ModelSelect:
    base = m.Opening.select().where(m.Opening.organisation == user.organisation_id)
    roles = user.roles
    if "hr" in roles:
        return base
    if "dept_head" in roles and user.department_ids:
        return base.where(m.Opening.department.in_(list(user.department_ids)))
    return base.where(pw.SQL("1 = 0"))
