"""How a talent-pool query reads the candidate tags: walking the candidates or listing them.

A search wants the matching candidates newest first, and only as many as a result shows (1,001:
the count stops there). There are two ways to get them, and each is fast exactly where the
other is slow:

- **walk**: go through the candidates newest first and probe each one's tags (EXISTS on the
  (tag, candidate, score) index), stopping as soon as enough match. It costs the candidates
  passed over: few when many candidates match (`negotiation`: a third of the pool, 3,000
  candidates walked), the whole pool when few do.
- **list**: read the candidates of the most selective term from the (tag, score, candidate)
  index, keep those matching the other terms (listed_set), and look them up newest first. It
  costs the entries listed: little for `negotiation>=0.9` (3,300), a lot for three tags a third
  of the pool each carries (100,000).

Neither database chooses well by itself: both estimate a tag condition's matches from
column-wide statistics, not per tag, and PostgreSQL hashed whole tag lists before walking, or
walked the whole pool for a sparse AND (benchmarks in docs/benchmarks.md). So the plan is chosen
here, from how many candidate tags each term matches: counted in the index, at most a quarter of
the pool, and remembered for a minute per process (a stale count only picks a slower plan, never
a wrong answer: both plans give the same hits).

A group of tag terms joined by OR is one `TagGroup`: one probe with the terms OR-ed inside it,
one list as UNION ALL of index ranges. (OR-ed separate probes made PostgreSQL hash every tag's
whole list before the walk.)
"""

from __future__ import annotations

import functools
import operator
import threading
import time
from dataclasses import dataclass

import peewee as pw

from .. import models as m
from ..db import is_postgres, underlying

COUNT_TTL_SECONDS = 60.0
"""How long a term's count of matches is reused; it only chooses a plan."""

LIST_SPREAD = 2.0
"""A term is tested inside the listed set (a semi- or anti-join with it) when it matches at most
this many times the entries of the smallest listed term; larger ones are probed only for the
candidates the result reaches (a probe costs a few list entries: 1.4 us against 0.4 on SQLite,
3 against 0.3 on PostgreSQL)."""

CUT_MARGIN = 2.0
"""The listed set is cut at the candidates a result needs only when the query is expected to match
at least this many times that: when fewer match, the cut may be short and the query asked again."""

CUT_SLACK = 1.25
"""The cut keeps this many rows per candidate needed: room for candidates listed twice."""

PROBE_COST = 3.0
"""A candidate walked past costs about this many list entries (a row and its probes)."""


@dataclass(frozen=True)
class TagLeaf:
    """One tag term: the tag's family (itself and what was merged into it) and a score bound."""

    tag_ids: tuple[int, ...]
    op: str | None = None
    value: float | None = None

    def condition(self, table=m.CandidateTag):
        where = table.tag.in_(list(self.tag_ids))
        if self.op is not None:
            score = table.score
            where &= {">=": score >= self.value, ">": score > self.value, "<=": score <= self.value,
                      "<": score < self.value, "=": score == self.value}[self.op]
        return where


@dataclass(frozen=True)
class TagGroup:
    """Tag terms joined by OR (often just one): a candidate matches when any of them does."""

    leaves: tuple[TagLeaf, ...]

    def condition(self):
        return functools.reduce(operator.or_, (leaf.condition() for leaf in self.leaves))

    def probe(self, candidate=m.Candidate.id):
        """The group as a test of a candidate: the one being walked, or the listed one `candidate` names."""
        return pw.fn.EXISTS(m.CandidateTag.select(pw.SQL("1")).where(self.condition() & (m.CandidateTag.candidate == candidate)))

    def listing(self):
        """The group's candidate ids (with repeats) as one SELECT: a range of the (tag, score,
        candidate) index per term, read by the index alone."""
        parts = (m.CandidateTag.select(m.CandidateTag.candidate).where(leaf.condition()) for leaf in self.leaves)
        return functools.reduce(operator.add, parts)  # + is UNION ALL

    def matches(self) -> int:
        """Candidate tags the group matches, as counted (capped) by matches_of."""
        return sum(matches_of(leaf) for leaf in self.leaves)


_pool_size: dict[int, tuple[int, float]] = {}


def _database_key() -> int:
    """Which database the figures are of: the models' proxy stays, the database behind it may change."""
    return id(underlying(m.Candidate._meta.database))


def pool_size() -> int:
    """Candidates in the pool, as far as choosing a plan needs: the highest id, read from the
    key (a count reads the whole index: 5-15 ms at 100,000 candidates) and reused for a minute."""
    key, now = _database_key(), time.monotonic()
    cached = _pool_size.get(key)
    if cached is not None and now - cached[1] < COUNT_TTL_SECONDS:
        return cached[0]
    size = m.Candidate.select(pw.fn.MAX(m.Candidate.id)).scalar() or 0
    _pool_size[key] = (size, now)
    return size


_counts: dict[tuple, tuple[int, float]] = {}
_counts_lock = threading.Lock()


def matches_of(leaf: TagLeaf) -> int:
    """How many candidate tags a term matches, counted up to a quarter of the pool (past that,
    walking wins whatever the exact number)."""
    key = (_database_key(), leaf)
    now = time.monotonic()
    with _counts_lock:
        cached = _counts.get(key)
    if cached is not None and now - cached[1] < COUNT_TTL_SECONDS:
        return cached[0]
    cap = max(1, pool_size() // 4)
    sample = m.CandidateTag.select(pw.SQL("1")).where(leaf.condition()).limit(cap)
    count = m.CandidateTag.select(pw.fn.COUNT(pw.SQL("*"))).from_(sample.alias("probe")).scalar() or 0
    with _counts_lock:
        if len(_counts) > 10000:  # a server answering many distinct terms: start over
            _counts.clear()
        _counts[key] = (count, now)
    return count


def forget_counts() -> None:
    with _counts_lock:
        _counts.clear()
        _pool_size.clear()
    _listed_sql.clear()


def walk_length(selectivity: float, need: int, pool: int) -> float:
    """Candidates a walk passes over to find `need` matches (all of them if fewer match)."""
    if selectivity <= 0:
        return float(pool)
    return min(float(pool), need / selectivity)


_listed_sql: dict[tuple, tuple[str, tuple]] = {}

MAX_LISTED_SQL = 2048
"""Listed sets whose SQL is kept per process (they are small: a few hundred bytes each)."""


def listed_set(driver: TagGroup, within: list[TagGroup], without: list[TagGroup], first: int | None = None):
    """_listed_select's SQL, rendered once for each set of groups (tags, bounds and cut): its nested
    probes were most of the 0.9 ms peewee took to render a listed search's main statement, which a
    search repeated for every page and every run of a saved search. The groups hold every value the
    SQL binds, so the kept text is exactly what rendering it again would give."""
    database = underlying(m.Candidate._meta.database)
    key = (type(database), driver, tuple(within), tuple(without), first)
    rendered = _listed_sql.get(key)
    if rendered is None:
        # Rendered on its own: its tables' aliases restart at t1, which inside the sub-select only
        # shadow the outer query's (the listed set never refers to the outer query).
        rendered = database.get_sql_context().sql(_listed_select(driver, within, without, first)).query()
        rendered = (rendered[0], tuple(rendered[1]))
        if len(_listed_sql) >= MAX_LISTED_SQL:  # a server answering many distinct queries: start over
            _listed_sql.clear()
        _listed_sql[key] = rendered
    return rendered


def _listed_select(driver: TagGroup, within: list[TagGroup], without: list[TagGroup], first: int | None = None):
    """The candidates of `driver` that match every group of `within` and none of `without`, as one
    SELECT of candidate ids (with repeats, which both databases drop when they look the ids up).

    The other groups are tests of each listed candidate, which PostgreSQL turns into hash semi- and
    anti-joins and SQLite into probes: 6 ms for `negotiation>=0.7 teamwork>=0.7 NOT
    logical_thinking<0.2` on PostgreSQL's benchmark pool, against 12 as INTERSECT / EXCEPT (a hash
    of every list), and the same 11 ms on SQLite either way.

    With `first`, only that many rows, newest first (search.py says when): PostgreSQL then merges
    the sorted list with each other tag's candidates in order and stops (5 ms instead of 8.5 for
    `(communication>=0.8 OR expertise>=0.9) AND python`). Repeats stay in the cut too: a candidate
    tagged twice (two recordings, two terms of an OR) takes two rows, so the cut holds fewer
    distinct candidates than rows; DISTINCT made PostgreSQL hash the whole list before cutting
    (10.6 ms)."""
    if len(driver.leaves) == 1:
        table = m.CandidateTag.alias("listed")
        listing, key = table.select(table.candidate).where(driver.leaves[0].condition(table)), table.candidate
    else:
        union = driver.listing().alias("listed")
        listing, key = m.CandidateTag.select(union.c.candidate_id).from_(union), union.c.candidate_id
    for group in within:
        listing = listing.where(group.probe(key))
    for group in without:
        listing = listing.where(~group.probe(key))
    if first is not None:
        listing = listing.order_by(key.desc()).limit(first)
    return listing


def should_list(smallest_list: int, selectivity: float, need: int, pool: int) -> bool:
    """Whether listing the smallest listable term costs less than walking the candidates."""
    return smallest_list < PROBE_COST * walk_length(selectivity, need, pool)


def id_set_condition(listing: tuple[str, tuple]):
    """candidate.id in the listed set (listed_set's SQL and values), in the form each database
    reads best: PostgreSQL computes the set once (an InitPlan) and looks its candidates up newest
    first through the key, stopping at the limit; given `IN (sub-select)` it walked or hashed the
    whole candidate table. SQLite looks candidates up from an `IN` list by itself."""
    sql, params = listing
    if is_postgres(m.Candidate._meta.database):
        return m.Candidate.id == pw.fn.ANY(pw.fn.ARRAY(pw.SQL(sql, params)))
    return m.Candidate.id.in_(pw.SQL("(" + sql + ")", params))
