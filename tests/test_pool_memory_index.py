"""The talent pool's in-memory tag index (server/pool/postings.py) and the change log it follows
(server/pool/changes.py): the same answers as SQL on a generated pool, every kind of change to
candidate tags seen before the next search, and the cases where searches must use SQL."""

from __future__ import annotations

import random

import pytest

from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.db import is_postgres
from talentreel.server.pool import changes, plan, postings, search, taxonomy

TAGS = ("negotiation", "teamwork", "resilience", "python", "expertise", "scene_a")

QUERIES = [
    "negotiation",
    "negotiation>=0.7",
    "negotiation>=0.7 teamwork>=0.7 NOT resilience<0.2",
    "teamwork AND NOT resilience",
    "(negotiation>=0.8 OR expertise>=0.9) AND python",
    "python OR scene_a OR expertise<0.1",
    "NOT negotiation",
    "negotiation OR NOT teamwork",
    "NOT (python OR teamwork>0.5)",
    "teamwork>=0.5 dept:Sales",
    "expertise>=0 opening:Closer",
    "(python OR resilience) (teamwork OR negotiation>=0.9)",
    "scene_a=0.5",
    "expertise>0.3",
    "expertise<=0.3",
    "expertise>=0.7 OR expertise<0.7",
    "expertise<0.7 NOT expertise<0.6",
]
# With transcript terms: the fixture transcripts' words, said by the analysed candidates only;
# and whether the index answers (phrases alone are SQL's: a transcript's candidates are not known
# to be of the organisation, nor are "all but" a tag's).
TEXT_QUERIES = [('"customer" negotiation', True), ('NOT python "price"', False), ('"price" (teamwork OR NOT resilience)', False),
                ('"customer" "price"', False)]


@pytest.fixture
def memory():
    """The index enabled in this process as in a web worker, and forgotten afterwards."""
    postings.forget()
    postings.enable(True)
    yield
    postings.enable(False)
    postings.forget()


@pytest.fixture
def generated(app, db, make_user):
    """A pool of 240 candidates over six tags: random scores (some none), some candidates tagged
    twice with a tag (two recordings), a department with an opening for half of them."""
    rng = random.Random(7)
    org = default_organisation()
    sales = m.Department.create(organisation=org, name="Sales")
    opening = m.Opening.create(organisation=org, department=sales, title="Closer")
    tags = {name: m.Tag.create(organisation=org, name=name) for name in TAGS}
    candidates = [m.Candidate.create(organisation=org, name=f"Candidate {i:03}") for i in range(240)]
    rows = []
    for candidate in candidates:
        if candidate.id % 2:
            m.Application.create(candidate=candidate, opening=opening)
        for name in rng.sample(TAGS, rng.randint(0, 4)):
            for _ in range(2 if rng.random() < 0.1 else 1):
                score = None if rng.random() < 0.1 else rng.choice([0.0, 0.1, 0.2, 0.5, 0.7, 0.8, 0.9, 1.0, round(rng.random(), 3)])
                rows.append({"candidate": candidate.id, "tag": tags[name].id, "score": score, "source": "test"})
    # Scores a digit's rounding would move across a threshold: 0.1 * 3 is just above 0.3, and
    # one step below 0.7 is not >= 0.7.
    for candidate, score in zip(candidates[-4:], (0.1 * 3, 0.7 - 2 ** -53, 0.7, 0.3)):
        rows.append({"candidate": candidate.id, "tag": tags["expertise"].id, "score": score, "source": "test"})
    m.CandidateTag.insert_many(rows).execute()
    hr = make_user("index_hr", roles=("hr",))
    head = make_user("index_head", roles=("dept_head",), departments=[sales])
    return {"app": app, "org": org, "tags": tags, "candidates": candidates, "hr": hr, "head": head, "make_user": make_user}


def _search(pool, text, user=None, **kwargs):
    with pool["app"].test_request_context():
        return search.run(user or pool["hr"], text, **kwargs)


def _both(pool, text, user, whole=False, **kwargs):
    """(SQL's result, the index's result, the plan the index's run took); with `whole`, instead
    of the plan whether the index gave the whole answer (SQL only looked up the page)."""
    postings.enable(False)
    plan.forget_counts()
    by_sql = _search(pool, text, user, **kwargs).as_dict()
    postings.enable(True)
    with pool["app"].test_request_context():
        _select, compiler = search.candidate_ids(user, text)
    return by_sql, _search(pool, text, user, **kwargs).as_dict(), (compiler.memory_ids is not None) if whole else compiler.chosen


@pytest.mark.parametrize("text", QUERIES)
def test_the_index_gives_what_sql_gives(generated, memory, db, text):
    assert postings.bring_up_to_date(db).entries > 200
    for user in (generated["hr"], generated["head"]):
        by_sql, by_memory, chosen = _both(generated, text, user, per_page=100)
        assert by_memory == by_sql, (user.username, text)
        assert by_sql["total"] > 0, text
        if user is generated["hr"] and not text.startswith("NOT"):
            assert chosen == "memory", text


def test_paging_and_the_cap_come_from_the_index(generated, memory, db, monkeypatch):
    postings.bring_up_to_date(db)
    monkeypatch.setattr(search, "MAX_TOTAL", 30)
    for page in (1, 2, 3):
        by_sql, by_memory, chosen = _both(generated, "negotiation OR teamwork", generated["hr"], page=page, per_page=10)
        assert by_memory == by_sql and chosen == "memory"
    assert by_memory["total"] == 30 and by_memory["total_capped"]


def test_a_pure_tag_search_asks_sql_only_for_its_page(generated, memory, db):
    from conftest import recorded_sql

    postings.bring_up_to_date(db)
    _search(generated, "negotiation>=0.7 teamwork>=0.7 NOT resilience<0.2")  # tag names looked up once, counts kept
    with recorded_sql(m.Candidate._meta.database) as statements:
        _search(generated, "negotiation>=0.7 teamwork>=0.7 NOT resilience<0.2")
    assert not any('FROM "candidate_tag" AS "listed"' in s or "EXISTS" in s for s in statements)
    assert sum("pool_index_state" in s for s in statements) == 1  # the one look at the change log


def _agree(pool, texts=("negotiation", "teamwork>=0.5 NOT python", "negotiation OR scene_a")):
    for text in texts:
        by_sql, by_memory, chosen = _both(pool, text, pool["hr"], per_page=100)
        assert by_memory == by_sql, text
        assert chosen == "memory", text


def test_every_kind_of_change_is_seen_by_the_next_search(generated, memory, db):
    org, tags, candidates = generated["org"], generated["tags"], generated["candidates"]
    snapshot = postings.bring_up_to_date(db)
    _agree(generated)
    # A manual tag (the application's own path) and a tagger's rows, inserted.
    from talentreel.server.pool import tagging

    tagging.add_manual(generated["hr"], candidates[0], "negotiation", 0.95)
    m.CandidateTag.create(candidate=candidates[1], tag=tags["scene_a"], score=0.4, source="test")
    _agree(generated)
    # A score changed, a row moved to another candidate (a merge of duplicate candidates), rows deleted.
    m.CandidateTag.update(score=0.01).where(m.CandidateTag.tag == tags["negotiation"]).execute()
    row = m.CandidateTag.select().where(m.CandidateTag.tag == tags["teamwork"]).first()
    m.CandidateTag.update(candidate=candidates[2]).where(m.CandidateTag.id == row.id).execute()
    m.CandidateTag.delete().where(m.CandidateTag.tag == tags["python"]).where(m.CandidateTag.candidate.in_([c.id for c in candidates[:50]])).execute()
    _agree(generated)
    # A candidate deleted (their tags go by ON DELETE CASCADE, no application code sees them).
    newest = max(candidates, key=lambda c: c.id)
    m.Candidate.delete().where(m.Candidate.id == newest.id).execute()
    _agree(generated)
    # A tag deleted with all its rows; another merged into a third (a family: no rows change).
    m.Tag.delete().where(m.Tag.id == tags["scene_a"].id).execute()
    taxonomy.merge(tags["expertise"], tags["python"], actor=generated["hr"])
    _agree(generated, ("negotiation", "python", "python>=0.5 NOT teamwork"))
    after = postings.bring_up_to_date(db)
    assert after.generation > snapshot.generation and after.token == snapshot.token


def test_many_changes_are_read_in_the_background_while_sql_answers(generated, memory, db, monkeypatch):
    before = postings.bring_up_to_date(db)
    monkeypatch.setattr(postings, "INLINE_CANDIDATES", 0)
    m.CandidateTag.create(candidate=generated["candidates"][5], tag=generated["tags"]["negotiation"], score=1.0, source="test")
    with generated["app"].test_request_context():
        _select, compiler = search.candidate_ids(generated["hr"], "negotiation")
    assert compiler.chosen != "memory"  # behind: SQL answered, a refresh started
    for _ in range(200):
        index = postings._index_for(db.obj if hasattr(db, "obj") else db)
        if not index.loading and index.snapshot.generation > before.generation:
            break
        import time

        time.sleep(0.05)
    monkeypatch.setattr(postings, "INLINE_CANDIDATES", 2000)
    _agree(generated)


def test_a_pruned_log_or_another_databases_log_means_a_full_reload(generated, memory, db, monkeypatch):
    postings.bring_up_to_date(db)
    loads = []
    real_load = postings.load
    monkeypatch.setattr(postings, "load", lambda *a: loads.append(1) or real_load(*a))
    # Pruned past what the index has seen: the changes in between are gone.
    m.CandidateTag.create(candidate=generated["candidates"][3], tag=generated["tags"]["python"], score=0.5, source="test")
    m.CandidateTag.create(candidate=generated["candidates"][4], tag=generated["tags"]["python"], score=0.6, source="test")
    assert changes.prune(db, keep=1) >= 1
    postings.bring_up_to_date(db)
    assert len(loads) == 1
    _agree(generated)
    # A restore gives the log a new token: whatever the generations, the index starts over.
    changes.retoken(db)
    postings.bring_up_to_date(db)
    assert len(loads) == 2
    _agree(generated)


def test_inside_a_transaction_searches_use_sql_and_the_index_never_learns_a_rollback(generated, memory, db):
    before = postings.bring_up_to_date(db)
    target = generated["candidates"][7]

    class Undo(Exception):
        pass

    # (The request context outside the transaction: its teardown closes the connection.)
    with generated["app"].test_request_context(), pytest.raises(Undo):
        with db.atomic():
            m.CandidateTag.create(candidate=target, tag=generated["tags"]["negotiation"], score=0.99, source="test")
            assert postings.current(db) is None
            found = search.run(generated["hr"], "negotiation>=0.99", per_page=100)
            assert target.id in [h.candidate.id for h in found.items]  # SQL sees the transaction's own row
            raise Undo
    after = postings.bring_up_to_date(db)
    assert (after.token, after.generation) == (before.token, before.generation)
    _agree(generated, ("negotiation>=0.99", "negotiation"))


def test_a_tag_on_another_organisations_candidate_is_never_a_hit(generated, memory, db):
    other = m.Organisation.create(name="Elsewhere")
    stranger = m.Candidate.create(organisation=other, name="Stranger")
    m.CandidateTag.create(candidate=stranger, tag=generated["tags"]["negotiation"], score=1.0, source="test")
    postings.bring_up_to_date(db)
    by_sql, by_memory, chosen = _both(generated, "negotiation>=0.99", generated["hr"], per_page=100)
    assert by_memory == by_sql and chosen == "memory"
    assert "Stranger" not in [h["candidate"]["name"] for h in by_memory["items"]]


def test_the_log_bumps_once_per_statement_on_postgresql_and_once_per_row_on_sqlite(generated, db):
    from talentreel.server import schema

    install = next(f for v, _n, f in schema.MIGRATIONS if v == 14)
    install(db, None)  # idempotent: run again, the triggers are still one set
    token, before = changes.state(db)
    ids = [c.id for c in generated["candidates"][:20]]
    m.CandidateTag.insert_many([{"candidate": i, "tag": generated["tags"]["python"], "score": 0.3, "source": "test"} for i in ids]).execute()
    _token, after = changes.state(db)
    assert after - before == (1 if is_postgres(db) else 20)
    assert sorted(changes.changed_since(db, before, after)) == ids
    # A statement that changes nothing leaves the log alone.
    m.CandidateTag.delete().where(m.CandidateTag.candidate == -1).execute()
    assert changes.state(db) == (token, after)


def test_a_fresh_instance_with_its_log_still_counts_as_empty_for_a_restore(settings):
    from talentreel.server import create_app
    from talentreel.server.backups import dump

    create_app(dict(settings))
    assert not set(dump.holdings(settings["database_url"])) & set(changes.TABLES)


def test_the_web_server_enables_the_index_only_when_configured(settings, monkeypatch):
    from talentreel.server import create_app
    from talentreel.server.cli import serve as serve_mod

    ran = []
    monkeypatch.setattr(serve_mod, "GunicornServer", lambda app, options: type("S", (), {"run": lambda self: ran.append(1)})())
    monkeypatch.setattr(serve_mod.gc, "freeze", lambda: None)
    try:
        serve_mod.serve(create_app({**settings, "pool_memory_index": False}), "127.0.0.1", 0, workers=1, threads=1)
        assert not postings.enabled() and ran
        serve_mod.serve(create_app(dict(settings)), "127.0.0.1", 0, workers=1, threads=1)  # on by default
        assert postings.enabled()
    finally:
        postings.enable(False)


@pytest.fixture
def with_transcripts(generated):
    """The generated pool and two candidates analysed from the fixture transcripts (passages in
    the full-text index, tags from the real taggers)."""
    from pool_helpers import analysed_candidate

    generated["analysed"] = [analysed_candidate(generated["app"], "Alice Fixture", "en"), analysed_candidate(generated["app"], "王芳", "zh")]
    return generated


@pytest.mark.parametrize("text,answered", TEXT_QUERIES)
def test_transcript_terms_beside_tags_give_what_sql_gives(with_transcripts, memory, db, text, answered):
    postings.bring_up_to_date(db)
    for user in (with_transcripts["hr"], with_transcripts["head"]):
        by_sql, by_memory, whole = _both(with_transcripts, text, user, whole=True, per_page=100)
        assert by_memory == by_sql, (user.username, text)
        assert by_sql["total"] > 0 or user is with_transcripts["head"], text
        assert whole is (answered and user is with_transcripts["hr"]), text
