"""Running a talent pool query for a user: which candidates, on which page, and the moment of a
replay that makes each one a hit.

The query tree becomes one SQL condition on candidate ids, applied to the user's scoped candidate
query (scoping.py: a dept_head only ever sees their departments' candidates), and every row shown
is still asked of the permission hook. In a web server the tag terms are answered from memory
(postings.py) whenever its copy of the tags is current; otherwise tag terms are probed per
candidate or listed from the index, as plan.py chooses for the query. A transcript term is
looked up in the full-text index first, at most PASSAGE_CAP passages, so a word said in every
interview cannot make a query run away (the result says when that happened). The total is
counted up to MAX_TOTAL and pages stop there: a query matching everyone stays cheap.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import operator
from dataclasses import dataclass, field

import numpy as np
import peewee as pw

from .. import models as m
from .. import scoping, statements
from ..errors import ValidationError
from ..i18n import _
from ..permissions import visible
from . import fulltext, plan, postings, segment, taxonomy
from .query import And, FieldTerm, Not, Or, Query, QueryError, TagTerm, TextTerm, parse

PASSAGE_CAP = 5000
"""Transcript passages one text term may match before the rest are ignored (and the result says so)."""

MAX_TOTAL = 1000
"""Matching candidates counted, and paged through, at most."""

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
TAGS_PER_HIT = 8


@dataclass
class Moment:
    recording_id: int
    second: float
    end: float
    snippet: str
    why: str

    @property
    def url(self) -> str:
        return f"/recordings/{self.recording_id}?t={self.second:g}"

    def as_dict(self) -> dict:
        return {"recording_id": self.recording_id, "second": self.second, "end": self.end,
                "snippet": self.snippet, "why": self.why, "url": self.url}


@dataclass
class Hit:
    candidate: m.Candidate
    tags: list[dict]
    moments: list[Moment]

    def as_dict(self) -> dict:
        return {"candidate": {"id": self.candidate.id, "name": self.candidate.name},
                "tags": self.tags, "moments": [mo.as_dict() for mo in self.moments]}


@dataclass
class Result:
    query: str
    items: list[Hit]
    page: int
    per_page: int
    total: int
    total_capped: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"query": self.query, "items": [h.as_dict() for h in self.items], "page": self.page,
                "per_page": self.per_page, "total": self.total, "total_capped": self.total_capped, "notes": self.notes}


class _Compiler:
    """The query tree as a peewee condition on m.Candidate.id, resolving names as it goes.

    Tag terms become TagGroups (plan.py), an OR of tag terms one group; the root's conjuncts are
    then either walked (every group a probe per candidate) or driven by the listed candidates of
    the most selective groups, whichever plan.py expects to read less."""

    def __init__(self, user: m.User, need: int = MAX_TOTAL + 1, stop_early: bool = True):
        self.user = user
        self.stop_early = stop_early
        self.stopped_early = False  # the listed set was cut at `need` (run() checks it was enough)
        self.org = user.organisation_id
        self.need = need
        self.database = m.Candidate._meta.database
        self.backend = fulltext.backend_for(self.database)
        self.notes: list[str] = []
        self.tag_ids: dict[TagTerm, list[int]] = {}
        self.tags: dict[TagTerm, m.Tag] = {}
        self.passages: dict[TextTerm, list[fulltext.Passage]] = {}
        self.chosen = "walk"  # or "list" or "memory": the plan that ran (tests)
        self.memory_ids: list[int] | None = None  # the whole answer, newest first, when memory gave it
        self.expected = 0.0  # candidates the query is expected to match

    # --- names and words, looked up once -------------------------------------------------------

    def _resolve(self, node):
        """The tree with tag names and transcript words looked up: tag terms as TagGroups (the
        tag terms of an OR folded into one), text terms as their candidate ids, nested ANDs and
        ORs flattened."""
        if isinstance(node, TagTerm):
            return plan.TagGroup((self._leaf(node),))
        if isinstance(node, TextTerm):
            return _Listed(tuple(self._text_candidates(node)))
        if isinstance(node, Not):
            return Not(self._resolve(node.child))
        if isinstance(node, (And, Or)):
            kind, children = type(node), []
            for child in map(self._resolve, node.children):
                children.extend(child.children if isinstance(child, kind) else [child])
            groups = [c for c in children if isinstance(c, plan.TagGroup)]
            if kind is Or and len(groups) > 1:
                children = [plan.TagGroup(tuple(leaf for g in groups for leaf in g.leaves))] + \
                           [c for c in children if not isinstance(c, plan.TagGroup)]
            return children[0] if len(children) == 1 else kind(tuple(children))
        return node  # FieldTerm

    def _find_tags(self, terms: list[TagTerm]) -> None:
        """Every tag term's tag and family, looked up together (a few statements per query, not per term)."""
        found = taxonomy.find_tags(self.org, [t.name for t in terms])
        for term in terms:
            if found[term.name] is None:
                raise QueryError(self._unknown_tag(term.name))
        family = taxonomy.families({tag.id: tag for tag in found.values()}.values())
        for term in terms:
            self.tags[term] = found[term.name]
            self.tag_ids[term] = family[found[term.name].id]

    def _leaf(self, term: TagTerm) -> plan.TagLeaf:
        return plan.TagLeaf(tuple(self.tag_ids[term]), term.op, term.value)

    # --- the plan --------------------------------------------------------------------------------

    def uncut(self) -> "_Compiler":
        """A compiler for the same query that never cuts the listed set (run() asks again with it
        when the scope thinned a cut set), reusing the tags this one looked up."""
        again = _Compiler(self.user, self.need, stop_early=False)
        again.tags, again.tag_ids = dict(self.tags), dict(self.tag_ids)
        return again

    def condition(self, query: Query):
        terms = [t for t in query.terms if isinstance(t, TagTerm)]
        if any(t not in self.tag_ids for t in terms):
            self._find_tags(terms)
        tree = self._resolve(query.tree)
        conjuncts = list(tree.children) if isinstance(tree, And) else [tree]
        answered = self._from_memory(conjuncts)
        if answered is not None:
            return answered
        pool = max(plan.pool_size(), 1)
        groups = [(c.matches(), i) for i, c in enumerate(conjuncts) if isinstance(c, plan.TagGroup)]
        texts = [len(c.ids) for c in conjuncts if isinstance(c, _Listed)]
        if groups:
            smallest, first = min(groups)
            # A transcript term with fewer candidates drives by itself (its ids are a literal list).
            selectivity = _selectivity(tree, pool)
            self.expected = selectivity * pool
            if (not texts or smallest < min(texts)) and plan.should_list(smallest, selectivity, self.need, pool):
                return self._listed(conjuncts, first, smallest)
        return self._all(conjuncts)

    def _from_memory(self, conjuncts: list):
        """The condition with the tag conjuncts answered by the in-memory index (postings.py), or
        None to take the SQL plan (no current index, no tag conjunct, or too many candidates to
        hand to SQL as a list).

        When tags (and transcript terms beside them) are the whole query and the user sees the
        whole organisation, the answer is the index's alone: memory_ids, newest first, and the
        search only looks up its page. With other terms (department, opening, dates) or a
        narrower scope, the candidates found become a literal list the rest of the condition is
        tested on."""
        tag_part = [c for c in conjuncts if postings.tag_only(c)]
        if not tag_part:
            return None
        snapshot = postings.current(self.database)
        if snapshot is None:
            return None
        # Transcript terms at the top are sets of candidates already: they join the tags' mask
        # (`negotiation>=0.5 "w1200"`: half the pool's tags and 900 candidates' passages, which
        # the SQL plan could only walk).
        texts = [c for c in conjuncts if isinstance(c, _Listed)]
        size = max([snapshot.universe] + [max(c.ids) + 1 for c in texts if c.ids])
        mask, negated = snapshot.mask(tag_part[0] if len(tag_part) == 1 else And(tuple(tag_part)), size)
        # Every candidate of a positive tag set is of the organisation (postings.ROWS_SQL); a
        # transcript term's are not known to be, nor "all but" some: then SQL applies the scope.
        of_organisation = not negated
        if texts:
            if negated:
                mask = ~mask
                negated = False
            for text in texts:
                keep = np.zeros(size, dtype=bool)
                keep[list(text.ids)] = True
                mask &= keep
        ids = np.flatnonzero(mask)
        rest = [c for c in conjuncts if not postings.tag_only(c) and not isinstance(c, _Listed)]
        if not rest and of_organisation and scoping.organisation_wide(self.user.roles):
            newest = ids[::-1]
            if self.stop_early:
                newest = newest[:self.need]
            if len(newest) <= postings.LITERAL_MAX:
                self.chosen = "memory"
                self.memory_ids = newest.tolist()
                self.expected = float(len(ids))
                return _id_list(self.memory_ids)
        if len(ids) > postings.LITERAL_MAX:
            return None
        self.chosen = "memory"
        self.expected = float(len(ids))
        if negated:
            known = ~_id_list(ids.tolist()) if len(ids) else None
        else:
            known = _id_list(ids.tolist())
        parts = ([known] if known is not None else []) + [self._compile(c) for c in rest]
        return self._and(parts) if parts else pw.SQL("1 = 1")

    def _listed(self, conjuncts: list, first: int, smallest: int):
        """The candidates of the most selective tag group (conjuncts[first]) that match the other
        groups of a similar size and none of the negated ones of a similar size, looked up newest
        first; the remaining conjuncts tested on each (plan.listed_set)."""
        self.chosen = "list"
        within_size = plan.LIST_SPREAD * max(smallest, 1)
        within, without, rest = [], [], []
        for i, c in enumerate(conjuncts):
            if i == first:
                continue
            if isinstance(c, plan.TagGroup) and c.matches() <= within_size:
                within.append(c)
            elif isinstance(c, Not) and isinstance(c.child, plan.TagGroup) and c.child.matches() <= within_size:
                without.append(c.child)
            else:
                rest.append(c)
        # For a user who sees the whole organisation, the listed set can stop at the first `need`
        # candidates newest first, with every other tag group tested inside it (on PostgreSQL
        # then a merge with each tag's candidates in order: 5 ms instead of 8.5 for `(communication
        # >=0.8 OR expertise>=0.9) AND python`): its candidates all carry the organisation's tags,
        # so the scope cannot drop any. run() checks that, and asks again without the cut when
        # fewer than `need` came back. Only worth it when more than `need` are expected to match.
        tags_only = all(isinstance(c, plan.TagGroup) or (isinstance(c, Not) and isinstance(c.child, plan.TagGroup)) for c in rest)
        if (self.stop_early and tags_only and scoping.organisation_wide(self.user.roles)
                and self.expected >= plan.CUT_MARGIN * self.need):
            within += [c for c in rest if isinstance(c, plan.TagGroup)]
            without += [c.child for c in rest if isinstance(c, Not)]
            self.stopped_early = True
            cut = int(self.need * plan.CUT_SLACK)
            return plan.id_set_condition(plan.listed_set(conjuncts[first], within, without, first=cut))
        listing = plan.listed_set(conjuncts[first], within, without)
        return self._and([plan.id_set_condition(listing)] + [self._compile(c) for c in rest])

    def _all(self, conjuncts: list):
        return self._and([self._compile(c) for c in conjuncts])

    @staticmethod
    def _and(parts: list):
        return functools.reduce(operator.and_, parts)

    def _compile(self, node):
        """One node as a condition on the candidate being walked or looked up."""
        if isinstance(node, And):
            return self._and([self._compile(c) for c in node.children])
        if isinstance(node, Or):
            return functools.reduce(operator.or_, [self._compile(c) for c in node.children])
        if isinstance(node, Not):
            return ~self._compile(node.child)
        if isinstance(node, plan.TagGroup):
            return node.probe()
        if isinstance(node, _Listed):
            return _id_list(node.ids)
        return self.field(node)

    def _unknown_tag(self, name: str) -> str:
        names = [t.name for t in m.Tag.select(m.Tag.name).where((m.Tag.organisation == self.org) & m.Tag.merged_into.is_null()).limit(2000)]
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)
        message = _("Unknown tag “%(name)s”.", name=name)
        if close:
            message += " " + _("Did you mean: %(names)s?", names=", ".join(close))
        return message + " " + _("To search what was said, put it in quotes: \"%(name)s\".", name=name)

    def _text_candidates(self, term: TextTerm) -> list[int]:
        words = segment.query_words(term.text)
        if not words:
            raise QueryError(_("The phrase “%(text)s” has no words to search for.", text=term.text))
        passages = self.backend.find(self.database, words, PASSAGE_CAP + 1)
        if len(passages) > PASSAGE_CAP:
            passages = passages[:PASSAGE_CAP]
            self.notes.append(_("“%(text)s” is said in very many passages; only the first %(cap)d were searched. Add terms to narrow it.",
                                text=term.text, cap=PASSAGE_CAP))
        self.passages[term] = passages
        return sorted({int(p[1]) for p in passages})

    def field(self, term: FieldTerm):
        if term.field == "dept":
            dept = (m.Department.select().where((m.Department.organisation == self.org)
                    & ((pw.fn.LOWER(m.Department.name) == term.value.lower()) | (pw.fn.LOWER(m.Department.code) == term.value.lower()))).first())
            if dept is None:
                raise QueryError(_("Unknown department “%(name)s”.", name=term.value))
            openings = m.Opening.select(m.Opening.id).where(m.Opening.department == dept)
            return self._at_openings(openings)
        if term.field == "opening":
            in_org = m.Opening.organisation == self.org
            if term.value.isdigit():
                found = m.Opening.select(m.Opening.id).where(in_org & (m.Opening.id == int(term.value)))
            else:
                found = m.Opening.select(m.Opening.id).where(in_org & pw.fn.LOWER(m.Opening.title).contains(term.value.lower()))
            ids = [o.id for o in found.limit(100)]
            if not ids:
                raise QueryError(_("No opening matches “%(value)s”.", value=term.value))
            return self._at_openings(ids)
        day = dt.datetime.combine(term.date, dt.time())
        when = pw.fn.COALESCE(m.Interview.scheduled_at, m.Interview.created_at)
        bound = when >= day if term.field == "after" else when < day + dt.timedelta(days=1)
        return m.Candidate.id.in_(m.Interview.select(m.Interview.candidate).where(bound))

    @staticmethod
    def _at_openings(openings):
        return (m.Candidate.id.in_(m.Application.select(m.Application.candidate).where(m.Application.opening.in_(openings)))
                | m.Candidate.id.in_(m.Interview.select(m.Interview.candidate).where(m.Interview.opening.in_(openings))))


def _id_list(ids) -> pw.Node:
    """candidate.id in `ids`, written as a literal list: the ids come from the database or the
    index (integers), and thousands of bound parameters would cost more to render than the query
    takes."""
    if not ids:
        return pw.SQL("1 = 0")
    return m.Candidate.id.in_(pw.SQL("(" + ",".join(map(str, ids)) + ")"))


@dataclass(frozen=True)
class _Listed:
    """A transcript term, looked up: the candidates whose passages say it."""

    ids: tuple[int, ...]


def _selectivity(node, pool: int) -> float:
    """The share of the pool a resolved node is expected to match, terms taken as independent;
    a filter (department, opening, dates) counts as matching everyone: nothing is known of it."""
    if isinstance(node, plan.TagGroup):
        return min(1.0, node.matches() / pool)
    if isinstance(node, _Listed):
        return min(1.0, len(node.ids) / pool)
    if isinstance(node, Not):
        return 1.0 - _selectivity(node.child, pool)
    if isinstance(node, And):
        return math.prod(_selectivity(c, pool) for c in node.children)
    if isinstance(node, Or):
        return 1.0 - math.prod(1.0 - _selectivity(c, pool) for c in node.children)
    return 1.0


def _page_numbers(page, per_page) -> tuple[int, int]:
    try:
        page = int(page or 1)
        per_page = int(per_page or PAGE_SIZE)
    except (TypeError, ValueError):
        raise ValidationError(_("page and per_page must be whole numbers."), field="page") from None
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationError(_("per_page must be from 1 to %(max)d.", max=MAX_PAGE_SIZE), field="per_page")
    if page < 1 or (page - 1) * per_page >= MAX_TOTAL:
        raise ValidationError(_("page must be from 1 to %(max)d at this page size (results stop at %(total)d).",
                                max=max(1, MAX_TOTAL // per_page), total=MAX_TOTAL), field="page")
    return page, per_page


def candidate_ids(user: m.User, query: Query | str, need: int = MAX_TOTAL + 1, stop_early: bool = True) -> tuple[pw.ModelSelect, _Compiler]:
    """The user's matching candidates as a query (ids, newest first), and the compiled terms;
    `need`: how many of them will be read (it chooses the plan); stop_early=False: never cut the
    listed set at `need` (the query then gives every match, not only the first `need`)."""
    query = parse(query) if isinstance(query, str) else query
    return _select(user, query, _Compiler(user, need, stop_early))


def _select(user: m.User, query: Query, compiler: _Compiler) -> tuple[pw.ModelSelect, _Compiler]:
    condition = compiler.condition(query)
    select = scoping.candidates(user).where(condition).order_by(m.Candidate.id.desc())
    return select, compiler


def run(user: m.User, text: str, page=1, per_page=PAGE_SIZE, locale: str | None = None) -> Result:
    page, per_page = _page_numbers(page, per_page)
    query = parse(text)
    # Roles and departments read once for the scoping and every row's permission check.
    with user.access_pinned():
        first = (page - 1) * per_page
        need = max(MAX_TOTAL + 1, first + per_page)
        select, compiler = candidate_ids(user, query, need)
        # One statement gives both the count (up to MAX_TOTAL + 1) and the page: the matching ids
        # newest first, as far as the page reaches. A separate count and page query evaluated the
        # whole condition twice; the ids come in primary-key order, which both databases read
        # from the key itself.
        ids = compiler.memory_ids if compiler.memory_ids is not None else _ids(select, need)
        if compiler.stopped_early and len(ids) < need:  # the scope dropped some of the cut set after all
            select, compiler = _select(user, query, compiler.uncut())
            ids = _ids(select, need)
        total = len(ids)
        page_ids = ids[first:first + per_page]
        page_rows = statements.models(m.Candidate, ("search_page", len(page_ids)), lambda: (
            m.Candidate.select().where(m.Candidate.id.in_(page_ids)).order_by(m.Candidate.id.desc())), page_ids) if page_ids else []
        rows = visible(user, "candidate.view", page_rows)
    hits = _hits(rows, query, compiler, locale)
    notes = list(compiler.notes)
    if total > MAX_TOTAL:
        notes.append(_("More than %(max)d candidates match; only the first %(max)d are shown. Narrow the query.", max=MAX_TOTAL))
    return Result(query.text, hits, page, per_page, min(total, MAX_TOTAL), total > MAX_TOTAL, notes)


def _ids(select, need: int) -> list[int]:
    # Read off the cursor: a thousand ids through peewee's row processing cost more than the query.
    return [row[0] for row in _raw(select.select(m.Candidate.id).limit(need))]


def _raw(select) -> list[tuple]:
    """A select's rows as the driver gives them (numbers, text; no dates among these columns)."""
    sql, params = select.sql()
    return m.Candidate._meta.database.execute_sql(sql, params).fetchall()


def tags_of(candidate_ids: list[int], locale: str | None, limit: int | None = TAGS_PER_HIT) -> dict[int, list[dict]]:
    """Each candidate's tags (merged ones shown as the tag they joined), best score first.
    Read off the cursor: a page of hits has hundreds of tag rows, and even peewee's tuples cost
    more than the query (every value goes through its field's conversion)."""
    candidate_ids = list(candidate_ids)
    rows = statements.execute(m.CandidateTag._meta.database, ("candidate_tags", len(candidate_ids)), lambda: (
        m.CandidateTag.select(m.CandidateTag.candidate, m.CandidateTag.score, m.CandidateTag.source, m.Tag.id, m.Tag.name,
                              m.Tag.kind, m.Tag.label_en, m.Tag.label_zh, m.Tag.merged_into)
        .join(m.Tag).where(m.CandidateTag.candidate.in_(candidate_ids))), candidate_ids).fetchall()
    best: dict[int, dict[int, dict]] = {}
    canon_cache: dict[int, m.Tag] = {}
    zh = (locale or "").startswith("zh")
    for cid, score, source, tag_id, name, kind, label_en, label_zh, merged_into in rows:
        if merged_into is not None:
            tag = canon_cache.get(tag_id) or canon_cache.setdefault(tag_id, taxonomy.canonical(m.Tag.get_by_id(tag_id)))
            tag_id, name, kind, label_en, label_zh = tag.id, tag.name, tag.kind, tag.label_en, tag.label_zh
        entry = best.setdefault(cid, {}).get(tag_id)
        if entry is None or (score is not None and (entry["score"] is None or score > entry["score"])):
            label = (label_zh or label_en or name) if zh else (label_en or label_zh or name)
            best[cid][tag_id] = {"name": name, "label": label, "kind": kind,
                                 "score": None if score is None else round(score, 2), "source": source}
    out = {}
    for cid, by_tag in best.items():
        ordered = sorted(by_tag.values(), key=lambda t: (t["score"] is None, -(t["score"] or 0), t["name"]))
        out[cid] = ordered[:limit] if limit else ordered
    return out


def _hits(rows: list[m.Candidate], query: Query, compiler: _Compiler, locale: str | None) -> list[Hit]:
    ids = [c.id for c in rows]
    if not ids:
        return []
    moments: dict[int, list[Moment]] = {cid: [] for cid in ids}
    terms = [t for t in query.positive_leaves(TagTerm) if compiler.tag_ids.get(t)]
    if terms:
        # The evidence of every tag term in one statement, each candidate's best-scored tag first;
        # each term then shows, per candidate, the first moment of a tag of its family.
        all_tags = sorted({i for t in terms for i in compiler.tag_ids[t]})
        evidence = statements.execute(m.TagEvidence._meta.database, ("search_evidence", len(ids), len(all_tags)), lambda: (
            m.TagEvidence.select(m.CandidateTag.candidate, m.CandidateTag.tag, m.TagEvidence.recording,
                                 m.TagEvidence.start_seconds, m.TagEvidence.end_seconds, m.TagEvidence.note)
            .join(m.CandidateTag).where(m.CandidateTag.candidate.in_(ids) & m.CandidateTag.tag.in_(all_tags))
            .order_by(m.CandidateTag.candidate, -pw.fn.COALESCE(m.CandidateTag.score, 0), m.TagEvidence.id)),
            (*ids, *all_tags, 0)).fetchall()
        for term in terms:
            family, seen = set(compiler.tag_ids[term]), set()
            label = taxonomy.label(compiler.tags[term], locale)
            for cid, tag_id, recording_id, start, end, note in evidence:
                if cid in seen or tag_id not in family:
                    continue
                seen.add(cid)
                moments[cid].append(Moment(recording_id, round(start, 1), round(end, 1), note or "", label))
    for term in query.positive_leaves(TextTerm):
        first: dict[int, int] = {}
        for segment_id, candidate_id in compiler.passages.get(term, []):
            if candidate_id in moments and candidate_id not in first:
                first[candidate_id] = segment_id
        if first:
            seg = m.TranscriptSegment
            found = (seg.select(seg.candidate, seg.recording, seg.start_seconds, seg.end_seconds, seg.text)
                     .where(seg.id.in_(list(first.values()))).tuples())
            for cid, recording_id, start, end, text in found:
                moments[cid].append(Moment(recording_id, round(start, 1), round(end, 1), text, f"“{term.text}”"))
    tags = tags_of(ids, locale)
    return [Hit(c, tags.get(c.id, []), moments[c.id]) for c in rows]
