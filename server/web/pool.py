"""Talent pool pages: search with hits that open the replay at their moment, saved searches,
comparing 2-4 candidates (AI scores beside reviewers' ratings), shortlist export (CSV, XLSX),
attaching a pool candidate to an opening, manual tags, and the tag taxonomy HR edits (rename,
merge, synonyms)."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for

from .. import audit
from .. import models as m
from ..errors import NotFound, ValidationError
from ..i18n import _
from ..permissions import can, login_required, require
from ..pool import search as pool_search
from ..pool import shortlist, tagging, taxonomy
from ..pool.query import parse
from . import locale_code, web_bp
from .openings import open_openings


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 6 else 1


@web_bp.get("/pool")
@login_required
def pool_search_page():
    require("search.run")
    q = request.args.get("q", "").strip()
    result, error = None, None
    if q:
        try:
            result = pool_search.run(g.user, q, page=_page_number(), locale=locale_code())
            audit.record("pool.search", None, details={"candidates": [h.candidate.id for h in result.items]}, wait_for_disk=False)
        except ValidationError as exc:
            error = str(exc)
    saved = m.SavedSearch.select().where(m.SavedSearch.user == g.user).order_by(m.SavedSearch.name)
    openings = open_openings() if result else {}
    openings = {k: o for k, o in openings.items() if can(g.user, "opening.edit", o)}
    return render_template("pool/search.html", q=q, result=result, error=error, saved=list(saved), openings=openings,
                           max_total=pool_search.MAX_TOTAL), (400 if error else 200)


@web_bp.post("/pool/searches")
@login_required
def pool_save_search():
    require("search.run")
    name, q = request.form.get("name", "").strip(), request.form.get("q", "").strip()
    try:
        if not name or len(name) > 100:
            raise ValidationError(_("Give the search a name of at most 100 characters."))
        parse(q)
        if m.SavedSearch.select().where((m.SavedSearch.user == g.user) & (m.SavedSearch.name == name)).exists():
            raise ValidationError(_("You already have a saved search called “%(name)s”.", name=name))
        m.SavedSearch.create(user=g.user, name=name, query=q)
        flash(_("Search “%(name)s” saved.", name=name))
    except ValidationError as exc:
        flash(str(exc))
    return redirect(url_for("web.pool_search_page", q=q))


@web_bp.post("/pool/searches/<int:search_id>/delete")
@login_required
def pool_delete_search(search_id: int):
    require("search.run")
    row = m.SavedSearch.get_or_none((m.SavedSearch.id == search_id) & (m.SavedSearch.user == g.user))
    if row is None:
        raise NotFound(f"saved search {search_id}")
    row.delete_instance()
    flash(_("Saved search deleted."))
    return redirect(url_for("web.pool_search_page"))


def _chosen_ids() -> list[str]:
    return request.values.getlist("c")


@web_bp.get("/pool/compare")
@login_required
def pool_compare():
    require("search.run")
    try:
        rows, competencies = shortlist.compare(g.user, _chosen_ids(), locale_code())
    except ValidationError as exc:
        flash(str(exc))
        return redirect(request.referrer or url_for("web.pool_search_page"))
    return render_template("pool/compare.html", rows=rows, competencies=competencies, labels=shortlist.competency_labels(rows))


@web_bp.get("/pool/shortlist.<fmt>")
@login_required
def pool_export(fmt: str):
    require("search.run")
    ids = _chosen_ids()
    if fmt not in ("csv", "xlsx") or not ids:
        flash(_("Tick the candidates to export first."))
        return redirect(request.referrer or url_for("web.pool_search_page"))
    if fmt == "csv":
        body, mimetype = shortlist.export_csv(g.user, ids, locale_code()), "text/csv; charset=utf-8"
    else:
        body = shortlist.export_xlsx(g.user, ids, locale_code())
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename=shortlist.{fmt}",
                                                      "Cache-Control": "private, no-store"})


@web_bp.post("/pool/attach")
@login_required
def pool_attach():
    require("search.run")
    candidate = shortlist.visible_candidates(g.user, [request.form.get("candidate", "")], 1)[0]
    opening = m.Opening.get_or_none(m.Opening.id == (int(request.form["opening"]) if request.form.get("opening", "").isdigit() else 0))
    if opening is None or not can(g.user, "opening.view", opening):
        flash(_("Choose an open opening."))
    else:
        try:
            _application, created = shortlist.attach(g.user, candidate, opening)
            flash(_("%(name)s was added to %(title)s.", name=candidate.name, title=opening.title) if created
                  else _("%(name)s is already on %(title)s.", name=candidate.name, title=opening.title))
        except ValidationError as exc:
            flash(str(exc))
    return redirect(request.referrer or url_for("web.pool_search_page"))


@web_bp.post("/pool/candidates/<int:candidate_id>/tags")
@login_required
def pool_tag_candidate(candidate_id: int):
    require("tag.manage")
    candidate = shortlist.visible_candidates(g.user, [candidate_id], 1)[0]
    raw = request.form.get("score", "").strip()
    try:
        score = float(raw) if raw else None
        tagging.add_manual(g.user, candidate, request.form.get("tag", ""), score)
        flash(_("Tag added to %(name)s.", name=candidate.name))
    except ValueError:
        flash(_("A score is a number from 0 to 1."))
    except ValidationError as exc:
        flash(str(exc))
    return redirect(request.referrer or url_for("web.pool_search_page"))


@web_bp.get("/pool/tags")
@login_required
def pool_tags():
    require("tag.manage")
    tags = list(m.Tag.select().where(m.Tag.organisation == g.user.organisation_id).order_by(m.Tag.kind, m.Tag.name))
    synonyms: dict[int, list[str]] = {}
    for row in m.TagSynonym.select().join(m.Tag).where(m.Tag.organisation == g.user.organisation_id):
        synonyms.setdefault(row.tag_id, []).append(row.text)
    names = {t.id: t.name for t in tags}
    return render_template("pool/tags.html", tags=tags, synonyms=synonyms, names=names)


@web_bp.post("/pool/tags/<int:tag_id>")
@login_required
def pool_tag_edit(tag_id: int):
    require("tag.manage")
    tag = m.Tag.get_or_none((m.Tag.id == tag_id) & (m.Tag.organisation == g.user.organisation_id))
    if tag is None:
        raise NotFound(f"tag {tag_id}")
    action = request.form.get("action")
    try:
        if action == "rename":
            taxonomy.rename(tag, actor=g.user, name=request.form.get("name"), label_en=request.form.get("label_en"),
                            label_zh=request.form.get("label_zh"))
            flash(_("Tag “%(name)s” saved.", name=tag.name))
        elif action == "merge":
            target = taxonomy.find_tag(g.user.organisation_id, request.form.get("into", ""))
            if target is None:
                raise ValidationError(_("Unknown tag “%(name)s”.", name=request.form.get("into", "")))
            taxonomy.merge(tag, target, actor=g.user)
            flash(_("“%(source)s” merged into “%(target)s”; searches for either find both.", source=tag.name, target=target.name))
        elif action == "synonym":
            taxonomy.add_synonym(tag, request.form.get("text", ""), request.form.get("language", ""), actor=g.user)
            flash(_("Synonym added to “%(name)s”.", name=tag.name))
        else:
            raise ValidationError(_("Unknown action."))
    except ValidationError as exc:
        flash(str(exc))
    return redirect(url_for("web.pool_tags"))
