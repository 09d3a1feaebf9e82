"""Oversight pages for HR and IT admins: the audit trail and the access review."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from flask import Response, g, render_template, request

from .. import access_review
from .. import audit as audit_trail
from .. import models as m
from ..errors import ValidationError
from ..permissions import login_required, require
from . import web_bp
from .submissions import clean_text

PAGE_SIZE = 100


def _day(value: str | None, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ValidationError(f"{field}: expected a date as YYYY-MM-DD, got {value[:20]!r}", field=field) from None


@web_bp.get("/audit")
@login_required
def audit_log():
    require("audit.view")
    filters = {k: clean_text(request.args.get(k)).strip() for k in ("actor", "action", "object", "since", "until")}
    query = (m.AuditEvent.select().join(m.User, on=(m.AuditEvent.actor == m.User.id), join_type=pw.JOIN.LEFT_OUTER)
             # Events of this organisation's people, and the system's own (no actor).
             .where(m.AuditEvent.actor.is_null() | (m.User.organisation == g.user.organisation_id)))
    if filters["actor"]:
        query = query.where(m.AuditEvent.actor_name == filters["actor"])
    if filters["action"]:
        query = query.where(m.AuditEvent.action.startswith(filters["action"]))
    if filters["object"]:
        kind, _, ident = filters["object"].partition(":")
        query = query.where(m.AuditEvent.object_type == kind)
        if ident:
            query = query.where(m.AuditEvent.object_id == ident)
    since, until = _day(filters["since"], "since"), _day(filters["until"], "until")
    if since:
        query = query.where(m.AuditEvent.at >= since)
    if until:
        query = query.where(m.AuditEvent.at < until + dt.timedelta(days=1))
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    events = list(query.order_by(m.AuditEvent.id.desc()).paginate(page, PAGE_SIZE))
    problems = audit_trail.verify() if request.args.get("verify") == "1" else None
    return render_template("oversight/audit.html", events=events, filters=filters, page=page,
                           more=len(events) == PAGE_SIZE, problems=problems)


@web_bp.get("/access-review")
@login_required
def access_review_page():
    require("audit.view")
    review = access_review.build(g.user.organisation)
    past = list(m.AccessReview.select(m.AccessReview.id, m.AccessReview.made_at, m.AccessReview.grants_flagged)
                .where(m.AccessReview.organisation == g.user.organisation_id).order_by(m.AccessReview.made_at.desc()).limit(12))
    return render_template("oversight/access_review.html", review=review, past=past)


@web_bp.get("/access-review.csv")
@login_required
def access_review_csv():
    require("audit.view")
    review = access_review.build(g.user.organisation)
    from .. import audit

    audit.record("access_review.export", None, object_type="organisation", object_id=str(g.user.organisation_id))
    return Response(access_review.to_csv(review), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=access-review-{review['made_at'][:10]}.csv",
                             "Cache-Control": "private, no-store"})
