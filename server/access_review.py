"""The access review: who can see which candidates, and why - the report an auditor asks for.

Per staff user of an organisation: their roles and what each gives (HR: every candidate;
department head: candidates of their departments' openings; interviewer: candidates of their
assigned interviews), their explicit grants with when each was last used, and flags: grants unused
for UNUSED_DAYS days (or never), grants past their expiry still unrevoked, disabled users still
holding grants. Made on demand (web page, CSV, `talentreel access-review`) and kept every quarter
(workers/maintenance.access_review_snapshot) so past reviews can be shown as they were.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from . import models as m

UNUSED_DAYS = 90
SNAPSHOT_EVERY = dt.timedelta(days=91)


def _reach(user: m.User, roles: set[str]) -> list[dict]:
    org = user.organisation_id
    reach = []
    if "hr" in roles:
        reach.append({"why": "role hr", "candidates": m.Candidate.select().where(m.Candidate.organisation == org).count()})
    if "dept_head" in roles:
        departments = [d.name for d in m.Department.select().join(m.UserDepartment).where(m.UserDepartment.user == user)]
        via = (m.Application.select(m.Application.candidate).join(m.Opening).join(m.Department)
               .join(m.UserDepartment, on=(m.UserDepartment.department == m.Department.id)).where(m.UserDepartment.user == user))
        reach.append({"why": "role dept_head: " + (", ".join(sorted(departments)) or "no department"),
                      "candidates": m.Candidate.select().where(m.Candidate.id.in_(via)).count()})
    if "interviewer" in roles:
        via = m.Interview.select(m.Interview.candidate).join(m.InterviewInterviewer).where(m.InterviewInterviewer.user == user)
        reach.append({"why": "role interviewer: assigned interviews", "candidates": m.Candidate.select().where(m.Candidate.id.in_(via)).count()})
    return reach


def build(organisation: m.Organisation, now: dt.datetime | None = None) -> dict:
    now = now or m.utcnow()
    unused_before = now - dt.timedelta(days=UNUSED_DAYS)
    users = []
    for user in m.User.select().where(m.User.organisation == organisation).order_by(m.User.username):
        roles = user.roles
        if roles <= {"candidate"}:
            continue  # candidates reach only themselves
        grants = []
        for grant in (m.Grant.select(m.Grant, m.Candidate).join(m.Candidate)
                      .where((m.Grant.user == user) & m.Grant.revoked_at.is_null()).order_by(m.Grant.id)):
            flags = []
            if (grant.last_used_at or grant.created_at) < unused_before:
                flags.append(f"unused for {UNUSED_DAYS} days" if grant.last_used_at else f"never used in {UNUSED_DAYS} days")
            if grant.expires_at is not None and grant.expires_at <= now:
                flags.append("expired, not revoked")
            if not user.is_active:
                flags.append("user disabled")
            grants.append({"grant": grant.id, "candidate": grant.candidate_id, "candidate_name": grant.candidate.name,
                           "permission": grant.permission, "reason": grant.reason,
                           "granted_by": grant.granted_by.username if grant.granted_by_id else None,
                           "created_at": grant.created_at.isoformat(), "last_used_at": grant.last_used_at.isoformat() if grant.last_used_at else None,
                           "expires_at": grant.expires_at.isoformat() if grant.expires_at else None, "flags": flags})
        users.append({"user": user.id, "username": user.username, "active": user.is_active, "roles": sorted(roles),
                      "reach": _reach(user, roles), "grants": grants})
    flagged = sum(1 for u in users for g in u["grants"] if g["flags"])
    return {"organisation": organisation.id, "made_at": now.isoformat(), "unused_days": UNUSED_DAYS,
            "users": users, "grants_flagged": flagged}


def to_csv(review: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "active", "roles", "why", "candidates", "candidate", "permission", "granted_by",
                     "created_at", "last_used_at", "expires_at", "flags"])
    for user in review["users"]:
        base = [user["username"], "yes" if user["active"] else "no", " ".join(user["roles"])]
        for reach in user["reach"]:
            writer.writerow(base + [reach["why"], reach["candidates"], "", "", "", "", "", "", ""])
        for grant in user["grants"]:
            writer.writerow(base + ["grant" + (f": {grant['reason']}" if grant["reason"] else ""), 1,
                                    f"{grant['candidate_name']} (#{grant['candidate']})", grant["permission"], grant["granted_by"] or "",
                                    grant["created_at"], grant["last_used_at"] or "", grant["expires_at"] or "", "; ".join(grant["flags"])])
    return out.getvalue()


def snapshot(now: dt.datetime | None = None) -> list[int]:
    """Store a review of every organisation (the quarterly job); returns the new rows' ids."""
    ids = []
    for organisation in list(m.Organisation.select()):
        review = build(organisation, now)
        ids.append(m.AccessReview.create(organisation=organisation, made_at=now or m.utcnow(), data=review,
                                         grants_flagged=review["grants_flagged"]).id)
    return ids
