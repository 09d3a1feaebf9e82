"""Reusing pool candidates: compare a few side by side, export a shortlist, attach one to a new
opening without a new interview (their recordings, reports and tags come along as they are).
Both show reviewers' ratings beside the AI's scores (server/review/ratings.py)."""

from __future__ import annotations

import csv
import io

from .. import audit
from .. import models as m
from ..errors import NotFound, PermissionDenied, ValidationError
from ..i18n import _
from ..permissions import can
from ..review import ratings as review_ratings
from . import search, taxonomy

COMPARE_MIN, COMPARE_MAX = 2, 4
SHORTLIST_MAX = 500
MOMENTS_PER_CANDIDATE = 3


def visible_candidates(user, ids, at_most: int = SHORTLIST_MAX) -> list[m.Candidate]:
    """The candidates named by id, in that order; one the user may not see is "not found"."""
    try:
        wanted = list(dict.fromkeys(int(i) for i in ids))
    except (TypeError, ValueError):
        raise ValidationError(_("Candidates are named by their numeric ids."), field="candidate") from None
    if len(wanted) > at_most:
        raise ValidationError(_("At most %(max)d candidates at a time.", max=at_most), field="candidate")
    rows = {c.id: c for c in m.Candidate.select().where(m.Candidate.id.in_(wanted))} if wanted else {}
    out = []
    for cid in wanted:
        candidate = rows.get(cid)
        if candidate is None or not can(user, "candidate.view", candidate):
            raise NotFound(f"candidate {cid}")
        out.append(candidate)
    return out


def profiles(user, candidates: list[m.Candidate], locale: str | None) -> list[dict]:
    """Per candidate: competency scores, other tags, key moments (the best evidence of their
    strongest tags), and the reviewers' ratings the user may read with their averages. Reading
    them is a view of candidate data, so it is audited."""
    ids = [c.id for c in candidates]
    tags = search.tags_of(ids, locale, limit=None)
    rated = review_ratings.visible(user, candidates, locale)
    out = []
    for candidate in candidates:
        mine = tags.get(candidate.id, [])
        evidence = (m.TagEvidence.select(m.TagEvidence, m.CandidateTag, m.Tag).join(m.CandidateTag).join(m.Tag)
                    .where(m.CandidateTag.candidate == candidate)
                    .order_by(m.CandidateTag.score.desc(nulls="LAST"), m.TagEvidence.id).limit(50))
        moments, seen_tags = [], set()
        for row in evidence:
            tag = taxonomy.canonical(row.candidate_tag.tag)
            if tag.id in seen_tags:
                continue
            seen_tags.add(tag.id)
            moments.append(search.Moment(row.recording_id, round(row.start_seconds, 1), round(row.end_seconds, 1),
                                         row.note or "", taxonomy.label(tag, locale)))
            if len(moments) == MOMENTS_PER_CANDIDATE:
                break
        out.append({"candidate": candidate,
                    "competencies": {t["name"]: t for t in mine if t["kind"] == "competency"},
                    "tags": [t for t in mine if t["kind"] != "competency"],
                    "moments": moments,
                    "ratings": rated[candidate.id],
                    "rating_summary": review_ratings.summary(rated[candidate.id])})
        audit.record("candidate.view", candidate, actor=user, details={"via": "talent pool", "ratings": len(rated[candidate.id])})
    return out


def competency_labels(rows: list[dict]) -> dict[str, str]:
    """{key: label} of every competency the AI scored or a reviewer rated, for the rows given."""
    labels = {key: c["label"] for row in rows for key, c in row["rating_summary"]["competencies"].items()}
    labels.update({name: tag["label"] for row in rows for name, tag in row["competencies"].items()})
    return labels


def compare(user, ids, locale: str | None) -> tuple[list[dict], list[str]]:
    """The candidates' profiles, and the competencies to line them up by: scored by the AI or
    rated by a reviewer for any of them."""
    candidates = visible_candidates(user, ids, COMPARE_MAX)
    if len(candidates) < COMPARE_MIN:
        raise ValidationError(_("Choose from %(min)d to %(max)d candidates to compare.", min=COMPARE_MIN, max=COMPARE_MAX),
                              field="candidate")
    rows = profiles(user, candidates, locale)
    return rows, sorted(competency_labels(rows))


def _table(user, ids, locale: str | None) -> tuple[list[str], list[list]]:
    rows = profiles(user, visible_candidates(user, ids), locale)
    competencies = sorted({name for row in rows for name in row["competencies"]})
    labels = {name: tag["label"] for row in rows for name, tag in row["competencies"].items()}
    header = ([_("Candidate"), _("E-mail")] + [labels[c] for c in competencies]
              + [_("Average rating (1-5)"), _("Ratings"), _("Tags"), _("Key moment")])
    body = []
    for row in rows:
        candidate = row["candidate"]
        scores = [row["competencies"].get(c, {}).get("score") for c in competencies]
        rated = row["rating_summary"]
        mean = round(rated["average"], 2) if rated["average"] is not None else None
        tags = ", ".join(t["label"] for t in row["tags"])
        moment = row["moments"][0].url if row["moments"] else ""
        body.append([candidate.name, candidate.email or ""] + scores + [mean, rated["count"], tags, moment])
    return header, body


def _cell(value):
    # A spreadsheet runs text starting with = + - @ as a formula: names come from outside.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(user, ids, locale: str | None) -> bytes:
    header, body = _table(user, ids, locale)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in body:
        writer.writerow([_cell(v) if v is not None else "" for v in row])
    audit.record("pool.export", None, actor=user, details={"format": "csv", "candidates": len(body)})
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8 (Chinese names)


def export_xlsx(user, ids, locale: str | None) -> bytes:
    from openpyxl import Workbook

    header, body = _table(user, ids, locale)
    book = Workbook()
    sheet = book.active
    sheet.title = "Shortlist"
    sheet.append(header)
    for row in body:
        sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    audit.record("pool.export", None, actor=user, details={"format": "xlsx", "candidates": len(body)})
    return out.getvalue()


def attach(user, candidate: m.Candidate, opening: m.Opening) -> tuple[m.Application, bool]:
    """Put a pool candidate on an opening's list; their earlier interviews stay the evidence."""
    if not can(user, "candidate.view", candidate):
        raise NotFound(f"candidate {candidate.id}")
    if not can(user, "opening.edit", opening):
        raise PermissionDenied("opening.edit")
    if opening.status != "open":
        raise ValidationError(_("The opening “%(title)s” is closed.", title=opening.title), field="opening")
    with m.Application._meta.database.atomic():
        application, created = m.Application.get_or_create(candidate=candidate, opening=opening, defaults={"status": "pool"})
        if created:
            audit.record("candidate.attach", candidate, actor=user, details={"opening": opening.id})
    return application, created
