"""The pool's candidate tags held in memory by each web worker: a posting list per tag.

Why: a tag query must answer in a few milliseconds through the API, and the database can only
walk or list index entries (plan.py). The sparse AND `negotiation>=0.7 teamwork>=0.7 NOT
logical_thinking<0.2` must read every one of its 842 matches on a pool of 100,000 candidates to
count them, and that is about 10,000 index probes: 6-9 ms of SQL before the request does anything
else. In memory it is a few vector operations. So each web process keeps, per tag, the
candidates carrying it (ascending) and their scores, and answers the tag part of a query with
boolean masks over candidate ids (a term: the ids whose score passes, set in a mask; AND, OR and
NOT: the masks combined); the database then only looks up the page shown.

Never stale: the database logs every change to candidate tags (changes.py, triggers). Before
using its arrays a search reads the log's state, one indexed statement; when something changed
it re-reads the tags of the candidates named in the log since (a few, inline) or, when many
changed or the log is another database's, reloads in a background thread. Until an index is
current the search takes the SQL plan, so a search never waits for the index and never sees an
answer older than the database's.

Not used inside a transaction: a search there may see its own uncommitted tags, which the index
must not learn (a rollback would take them back silently).

Memory: 16 bytes per candidate tag (int64 id, float64 score; float64 because a score stored as
0.7 must compare as SQL compares it), 16 MB per process for the benchmark's million.
Only long-running web processes enable it (cli/serve.py, setting `pool_memory_index`): a CLI
search would load the whole pool to answer once.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..db import is_postgres, underlying
from . import changes, plan
from .query import And, Not, Or

log = logging.getLogger(__name__)

LITERAL_MAX = 5000
"""Candidates a memory answer may hand to SQL as a literal list (with filters or a scoped user);
a larger set leaves the query to the SQL plan."""

INLINE_CANDIDATES = 2000
"""Changed candidates a search re-reads itself before answering from memory (a few ms); more are
read in the background while searches use SQL."""

FETCH_ROWS = 65536
IN_CHUNK = 900  # candidate ids per look-up of their current tags

_EMPTY = np.empty(0, dtype=np.int64)  # a tag with no candidates left
_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less, "=": np.equal}

_enabled = False


def enable(on: bool = True) -> None:
    """Let searches in this process answer from memory (web workers; see the module's docstring)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


@dataclass
class Snapshot:
    """The candidate tags as of one generation of the log. Never changed once built: an update
    builds a new one sharing the arrays of the tags it did not touch."""

    token: str
    generation: int
    tags: dict[int, tuple[np.ndarray, np.ndarray]]  # tag id -> (candidate ids ascending, scores; NaN: none)
    single: bool = False  # scores are stored in single precision (see _single_precision)
    _universe: int | None = field(default=None, repr=False)

    @property
    def entries(self) -> int:
        return sum(len(ids) for ids, _ in self.tags.values())

    # --- answering ----------------------------------------------------------------------------
    # Sets of candidates are boolean masks over candidate ids (one byte per id up to the largest:
    # 100 KB at 100,000 candidates): a union, intersection or difference is one pass over them,
    # where sorting the lists together cost 20 ms for three tags a third of the pool each carries.

    @property
    def universe(self) -> int:
        """One more than the largest candidate id holding a tag: the masks' length."""
        if self._universe is None:
            self._universe = 1 + max((int(ids[-1]) for ids, _ in self.tags.values() if len(ids)), default=0)
        return self._universe

    def group(self, group: plan.TagGroup, size: int) -> np.ndarray:
        """The candidates matching any term of the group, as a mask of `size` (>= universe)."""
        mask = np.zeros(size, dtype=bool)
        for leaf in group.leaves:
            for tag_id in leaf.tag_ids:
                entry = self.tags.get(tag_id)
                if entry is None:
                    continue
                ids, scores = entry
                if leaf.op is not None:
                    # NaN (no score) fails every comparison, as NULL does in SQL.
                    ids = ids[_OPS[leaf.op](scores, leaf.value)]
                mask[ids] = True  # a candidate tagged twice (two recordings) is still one candidate
        return mask

    def mask(self, node, size: int) -> tuple[np.ndarray, bool]:
        """A tag-only node (tag_only()) as (mask of `size`, negated): negated means every
        candidate but those the mask holds. `size` is at least `universe`, more when the mask
        is to be combined with ids beyond it (a transcript term's candidates)."""
        if isinstance(node, plan.TagGroup):
            return self.group(node, size), False
        if isinstance(node, Not):
            mask, negated = self.mask(node.child, size)
            return mask, not negated
        if isinstance(node, (And, Or)):
            parts = [self.mask(child, size) for child in node.children]
            if isinstance(node, Or):
                # De Morgan: A or B or not C = not (not A and not B and C).
                mask, negated = _conjunction([(mask, not negated) for mask, negated in parts])
                return mask, not negated
            return _conjunction(parts)
        raise TypeError(f"not a tag-only node: {node!r}")


def tag_only(node) -> bool:
    """Whether a resolved query node is made of tag terms alone (what a Snapshot answers)."""
    if isinstance(node, plan.TagGroup):
        return True
    if isinstance(node, Not):
        return tag_only(node.child)
    if isinstance(node, (And, Or)):
        return all(tag_only(child) for child in node.children)
    return False


def _conjunction(parts: list[tuple[np.ndarray, bool]]) -> tuple[np.ndarray, bool]:
    """(mask, negated) parts joined by AND: A and B and not C and not D = (A n B) - (C u D);
    when every part is negated, not (C u D)."""
    excluded = _combine(np.logical_or, [mask for mask, negated in parts if negated])
    positive = [mask for mask, negated in parts if not negated]
    if not positive:
        return excluded, True
    result = _combine(np.logical_and, positive)
    if excluded is not None:
        result &= ~excluded
    return result, False


def _combine(op, masks: list[np.ndarray]) -> np.ndarray | None:
    """The masks joined by `op` into a new one (None for none)."""
    if not masks:
        return None
    result = masks[0].copy()
    for mask in masks[1:]:
        op(result, mask, out=result)
    return result


# --- building ---------------------------------------------------------------------------------


def _rows_to_arrays(rows: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(tag, candidate, score) rows sorted by tag then candidate, as posting lists."""
    tags = rows[:, 0].astype(np.int64)
    ids = rows[:, 1].astype(np.int64)
    scores = np.ascontiguousarray(rows[:, 2])
    starts = np.concatenate(([0], np.flatnonzero(tags[1:] != tags[:-1]) + 1, [len(tags)]))
    return {int(tags[a]): (ids[a:b].copy(), scores[a:b].copy()) for a, b in zip(starts[:-1], starts[1:])}


def _fetch(cursor) -> list[np.ndarray]:
    chunks = []
    while True:
        rows = cursor.fetchmany(FETCH_ROWS)
        if not rows:
            return chunks
        chunks.append(np.array(rows, dtype=np.float64))  # None (no score) becomes NaN


ROWS_SQL = ("SELECT ct.tag_id, ct.candidate_id, ct.score FROM candidate_tag ct JOIN tag t ON t.id = ct.tag_id "
            "JOIN candidate c ON c.id = ct.candidate_id WHERE c.organisation_id = t.organisation_id")
"""The candidate tags the index holds: those whose candidate is of the tag's organisation, which
is every one the application writes. A search is always of one organisation's candidates with
that organisation's tags, so a row against that rule could never be a hit through SQL either;
left out, it cannot make the index's answer differ from SQL's."""


def _sorted(rows: np.ndarray) -> np.ndarray:
    """Rows by tag, then candidate (numpy sorts a million in about 0.1 s; a database's ORDER BY
    over the join costs more)."""
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows


def _single_precision(db) -> bool:
    """Whether the database keeps scores in single precision (PostgreSQL's `real`, peewee's
    FloatField there). It compares them so too: a score written as 0.7 is 0.699999988 and fails
    `>= 0.7`. The driver hands back 0.7, so the index rounds to single precision to agree."""
    if not is_postgres(db):
        return False
    row = db.execute_sql("SELECT data_type FROM information_schema.columns WHERE table_name = 'candidate_tag' "
                         "AND column_name = 'score' AND table_schema = current_schema()").fetchone()
    return bool(row) and row[0] == "real"


def _as_stored(rows: np.ndarray, single: bool) -> np.ndarray:
    if single and len(rows):
        rows[:, 2] = rows[:, 2].astype(np.float32)
    return rows


def _text_lists(db) -> list[tuple[int, str, str]]:
    """Per tag: its candidate ids and their scores, each as comma-separated text in the same row
    order (both aggregates read each row of a group in turn). One row per tag instead of a
    million: the database builds the text, numpy parses it (1M rows as Python tuples took 7-9 s
    to load on the development machine). The scores' text is exact: SQLite's `%!.17g` gives the
    17 digits that round-trip a double (its plain REAL-to-text conversion keeps 15, so 0.1 * 3
    would read back as 0.3 and pass `<= 0.3`), PostgreSQL writes its shortest exact form when
    extra_float_digits is above 0 (3: before PostgreSQL 12, the 9 digits that round-trip a real)."""
    if is_postgres(db):
        with db.atomic():
            db.execute_sql("SET LOCAL extra_float_digits = 3")
            return db.execute_sql("SELECT tag_id, string_agg(candidate_id::text, ','), string_agg(COALESCE(score::text, 'NaN'), ',') "
                                  "FROM candidate_tag GROUP BY tag_id").fetchall()
    return db.execute_sql("SELECT tag_id, group_concat(candidate_id), "
                          "group_concat(CASE WHEN score IS NULL THEN 'nan' ELSE printf('%!.17g', score) END) "
                          "FROM candidate_tag GROUP BY tag_id").fetchall()


def _organisations(db) -> tuple[np.ndarray, dict[int, int]]:
    """Each candidate's organisation (an array by candidate id, -1 where none) and each tag's."""
    rows = db.execute_sql("SELECT organisation_id, " + ("string_agg(id::text, ',')" if is_postgres(db) else "group_concat(id)")
                          + " FROM candidate GROUP BY organisation_id").fetchall()
    per_organisation = [(org, np.fromstring(ids, dtype=np.int64, sep=",")) for org, ids in rows]
    size = 1 + max((int(ids.max()) for _org, ids in per_organisation if len(ids)), default=0)
    candidates = np.full(size, -1, dtype=np.int64)
    for org, ids in per_organisation:
        candidates[ids] = org
    tags = dict(db.execute_sql("SELECT id, organisation_id FROM tag").fetchall())
    return candidates, tags


def load(db, current: tuple[str, int]) -> Snapshot:
    """Every candidate tag of ROWS_SQL's rule, as posting lists."""
    db = underlying(db)
    started = time.monotonic()
    single = _single_precision(db)
    lists = _text_lists(db)
    candidate_org, tag_org = _organisations(db)
    tags = {}
    for tag_id, id_text, score_text in lists:
        ids = np.fromstring(id_text, dtype=np.int64, sep=",")
        scores = np.fromstring(score_text, dtype=np.float64, sep=",")
        if len(ids) != len(scores):  # cannot happen (one value per row each); never guess
            raise RuntimeError(f"tag {tag_id}: {len(ids)} candidates but {len(scores)} scores read")
        if single:
            scores = scores.astype(np.float32).astype(np.float64)
        known = ids < len(candidate_org)
        keep = known & (candidate_org[np.where(known, ids, 0)] == tag_org.get(tag_id, -2))
        ids, scores = ids[keep], scores[keep]
        order = np.argsort(ids, kind="stable")
        if len(ids):
            tags[int(tag_id)] = (ids[order], scores[order])
    snapshot = Snapshot(current[0], current[1], tags, single)
    log.info("talent pool index: %d candidate tags of %d tags loaded in %.2f s", snapshot.entries, len(snapshot.tags),
             time.monotonic() - started)
    return snapshot


def apply(db, snapshot: Snapshot, candidates: list[int], current: tuple[str, int]) -> Snapshot:
    """The snapshot with the tags of `candidates` read again from the database."""
    db = underlying(db)
    changed = np.unique(np.asarray(candidates, dtype=np.int64))
    chunks = []
    for i in range(0, len(changed), IN_CHUNK):
        part = ",".join(str(int(c)) for c in changed[i:i + IN_CHUNK])  # ids from the log: integers
        cursor = db.execute_sql(f"{ROWS_SQL} AND ct.candidate_id IN ({part})")
        chunks.extend(_fetch(cursor))
    tags = dict(snapshot.tags)
    for tag_id, (ids, scores) in snapshot.tags.items():
        # Which lists hold a changed candidate: a binary search per changed one, not a pass over the list.
        if len(ids) and np.any(np.searchsorted(ids, changed, "left") != np.searchsorted(ids, changed, "right")):
            keep = ~np.isin(ids, changed, assume_unique=False)
            tags[tag_id] = (ids[keep], scores[keep])
    if chunks:
        rows = _as_stored(_sorted(np.concatenate(chunks)), snapshot.single)
        for tag_id, (ids, scores) in _rows_to_arrays(rows).items():
            old_ids, old_scores = tags.get(tag_id, (_EMPTY, np.empty(0)))
            all_ids, all_scores = np.concatenate((old_ids, ids)), np.concatenate((old_scores, scores))
            order = np.argsort(all_ids, kind="stable")
            tags[tag_id] = (all_ids[order], all_scores[order])
    tags = {tag_id: entry for tag_id, entry in tags.items() if len(entry[0])}
    return Snapshot(current[0], current[1], tags, snapshot.single)


# --- keeping current --------------------------------------------------------------------------


class _Index:
    """One database's snapshot in this process, and who is bringing it up to date."""

    def __init__(self):
        self.snapshot: Snapshot | None = None
        self.lock = threading.Lock()  # held by whoever updates the snapshot
        self.loading = False  # a background refresh is under way
        self.loading_lock = threading.Lock()  # only for `loading`: never held while reading the database

    def catch_up(self, db, current: tuple[str, int], inline: bool) -> Snapshot | None:
        """Bring the snapshot to `current` if that is cheap (or not `inline`); None if not done."""
        snapshot = self.snapshot
        if snapshot is not None and (snapshot.token, snapshot.generation) == current:
            return snapshot
        if snapshot is not None and snapshot.token == current[0] and snapshot.generation < current[1]:
            first = changes.oldest(db)
            if first and first <= snapshot.generation + 1:  # the log still holds everything since
                changed = changes.changed_since(db, snapshot.generation, current[1])
                if not inline or len(changed) <= INLINE_CANDIDATES:
                    self.snapshot = apply(db, snapshot, changed, current)
                    return self.snapshot
        if inline:
            return None
        self.snapshot = load(db, current)
        return self.snapshot

    def refresh_in_background(self, db) -> None:
        with self.loading_lock:
            if self.loading:
                return
            self.loading = True
        threading.Thread(target=self._refresh, args=(db,), name="talent-pool-index", daemon=True).start()

    def _refresh(self, db) -> None:
        try:
            with db.connection_context():
                with self.lock:
                    current = changes.state(db)
                    if current is not None:
                        self.catch_up(db, current, inline=False)
        except Exception:  # a search falls back to SQL meanwhile; the next one tries again
            log.exception("talent pool index: could not load the candidate tags")
        finally:
            with self.loading_lock:
                self.loading = False


_indexes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def _index_for(db) -> _Index:
    with _indexes_lock:
        index = _indexes.get(db)
        if index is None:
            index = _indexes[db] = _Index()
        return index


def current(db) -> Snapshot | None:
    """The database's candidate tags as a Snapshot as current as the database, or None when
    searches should use SQL now (disabled, inside a transaction, not loaded yet, catching up)."""
    if not _enabled:
        return None
    db = underlying(db)
    if db.in_transaction():
        return None
    state = changes.state(db)
    if state is None:
        return None
    index = _index_for(db)
    snapshot = index.snapshot
    if snapshot is not None and (snapshot.token, snapshot.generation) == state:
        return snapshot
    if index.lock.acquire(blocking=False):  # another thread catching up: use SQL meanwhile
        try:
            found = index.catch_up(db, state, inline=True)
        except Exception:
            log.exception("talent pool index: could not catch up")
            found = None
        finally:
            index.lock.release()
        if found is not None:
            return found
    index.refresh_in_background(db)
    return None


def bring_up_to_date(db) -> Snapshot | None:
    """Load or catch up the database's snapshot now, waiting for it (tests, warm-ups); None
    before migration 14."""
    db = underlying(db)
    index = _index_for(db)
    with index.lock:
        state = changes.state(db)
        return None if state is None else index.catch_up(db, state, inline=False)


def forget() -> None:
    """Drop every snapshot of this process (tests)."""
    with _indexes_lock:
        _indexes.clear()
