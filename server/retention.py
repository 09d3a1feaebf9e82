"""Retention: candidates are kept only as long as there is a reason to.

The rule, per organisation: a candidate is erased `days_after_close` days after the last opening
they applied to closed - unless they agreed to stay in the talent pool, are under legal hold, or
still have an open application. The organisation's own rule (`settings["retention"]`, set with
`talentreel retention set`) wins over the instance default (`retention_days_after_close`); 0 or
none means keep. A daily sweep (workers/maintenance.retention_sweep) applies it through
erasure.erase_candidate, so a swept candidate is forgotten exactly like one erased by hand.
"""

from __future__ import annotations

import datetime as dt


from flask import current_app

from . import models as m
from .erasure import erase_candidate


def days_after_close(organisation: m.Organisation) -> int:
    rule = (organisation.settings or {}).get("retention") or {}
    if "days_after_close" in rule:
        return int(rule["days_after_close"] or 0)
    return int(current_app.extensions["talentreel"].settings["retention_days_after_close"])


def set_days_after_close(organisation: m.Organisation, days: int | None) -> None:
    if days is not None and days < 0:
        raise ValueError("days_after_close: expected 0 or more days (0: keep)")
    settings = dict(organisation.settings or {})
    settings["retention"] = {"days_after_close": days or 0}
    m.Organisation.update(settings=settings).where(m.Organisation.id == organisation.id).execute()
    organisation.settings = settings


def due(organisation: m.Organisation, now: dt.datetime | None = None) -> list[m.Candidate]:
    """The organisation's candidates the rule says to erase now."""
    days = days_after_close(organisation)
    if days <= 0:
        return []
    cutoff = (now or m.utcnow()) - dt.timedelta(days=days)
    Opening = m.Opening
    # Any application to an opening still open, or closed after the cutoff, keeps the candidate.
    keeps = (m.Application.select(m.Application.candidate).join(Opening)
             .where((Opening.status != "closed") | Opening.closed_at.is_null() | (Opening.closed_at > cutoff)))
    applied = m.Application.select(m.Application.candidate)
    return list(m.Candidate.select().where(
        (m.Candidate.organisation == organisation) & (m.Candidate.in_talent_pool == False)  # noqa: E712
        & (m.Candidate.legal_hold == False) & m.Candidate.id.in_(applied) & m.Candidate.id.not_in(keeps))  # noqa: E712
        .order_by(m.Candidate.id))


def sweep(dry_run: bool = False, now: dt.datetime | None = None) -> dict:
    """Apply every organisation's rule; returns what was (or, dry, would be) erased."""
    result = {"dry_run": dry_run, "organisations": []}
    for organisation in list(m.Organisation.select().order_by(m.Organisation.id)):
        candidates = due(organisation, now)
        erased = []
        for candidate in candidates:
            if not dry_run:
                erase_candidate(candidate, None, reason=f"retention: {days_after_close(organisation)} days after the last opening closed")
            erased.append(candidate.id)
        result["organisations"].append({"organisation": organisation.id, "days_after_close": days_after_close(organisation),
                                        "candidates": erased})
    return result



