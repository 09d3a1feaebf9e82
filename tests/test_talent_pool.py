"""The talent pool: tags from the fixture transcripts' real reports, the query language and its
errors, search to the moment (tags and transcripts, Chinese and English), scoping, taxonomy edits
that keep earlier searches working, the API, the CLI, the web pages, exports and attaching."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from unittest import mock

import pytest

from conftest import PASSWORD, csrf_token_from, recorded_sql
from pool_helpers import analysed_candidate
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.db import is_postgres
from talentreel.server.plugins import hookimpl
from talentreel.server.pool import query as q
from talentreel.server.pool import fulltext, plan, search, tagging, taxonomy
from talentreel.server.pool.query import QueryError

API = "/api/v1"


# --- the query language (no database) ---------------------------------------------------------------


def test_query_grammar():
    tree = q.parse('negotiation>=0.6 AND (模拟谈判 OR "full price") NOT dept:销售部 after:2026-01-01').tree
    assert isinstance(tree, q.And) and len(tree.children) == 4
    assert tree.children[0] == q.TagTerm("negotiation", ">=", 0.6)
    assert tree.children[1] == q.Or((q.TagTerm("模拟谈判"), q.TextTerm("full price")))
    assert tree.children[2] == q.Not(q.FieldTerm("dept", "销售部"))
    assert tree.children[3].date.isoformat() == "2026-01-01"
    assert q.parse("a OR b c").tree == q.Or((q.TagTerm("a"), q.And((q.TagTerm("b"), q.TagTerm("c")))))
    assert q.parse('tag:"customer negotiation">0.5').tree == q.TagTerm("customer negotiation", ">", 0.5)
    assert q.parse('text:discount').tree == q.TextTerm("discount")
    assert q.parse('"a>=0.5"').tree == q.TextTerm("a>=0.5")  # quoted: text, whatever it holds


@pytest.mark.parametrize("text, message", [
    ("", "The query is empty"),
    ("   ", "The query is empty"),
    ("(negotiation", "The '(' at position 1 is never closed"),
    ("negotiation)", "The ')' at position 12 has no matching '('"),
    ("()", "closes an empty group"),
    ("negotiation AND", "AND at position 13 needs a term after it"),
    ("OR negotiation", "OR at position 1 needs a term before it"),
    ('"full price', "The quote at position 1 is never closed"),
    ("negotiation>=1.5", "must be a number from 0 to 1"),
    ("negotiation>=nan", "must be a number from 0 to 1"),
    ("salary:high", "Unknown filter “salary:”"),
    ("after:yesterday", "is not a date"),
    ("dept:", "needs a value"),
    ("a\x00b", "control characters"),
    ("x" * 501, "longer than 500"),
    (" ".join(["a"] * 25), "at most 24 are allowed"),
])
def test_bad_queries_name_the_problem(text, message):
    with pytest.raises(QueryError) as raised:
        q.parse(text)
    assert message in str(raised.value)
    assert raised.value.field == "q"


# --- tags and search on real reports -----------------------------------------------------------------


@pytest.fixture
def pool(app, db, make_user):
    """Two analysed candidates (the English and Chinese fixture transcripts) on openings of two
    departments, and one with no interview analysed."""
    org = default_organisation()
    sales = m.Department.create(organisation=org, name="销售部")
    tech = m.Department.create(organisation=org, name="技术部")
    sales_opening = m.Opening.create(organisation=org, department=sales, title="Key Account Manager")
    tech_opening = m.Opening.create(organisation=org, department=tech, title="Backend Engineer")
    en = analysed_candidate(app, "Alice Fixture", "en", opening=sales_opening)
    zh = analysed_candidate(app, "王芳", "zh", opening=tech_opening)
    plain = m.Candidate.create(organisation=org, name="No Interview")
    hr = make_user("pool_hr", roles=("hr",))
    return {"app": app, "en": en, "zh": zh, "plain": plain, "hr": hr, "sales": sales, "tech": tech,
            "sales_opening": sales_opening, "tech_opening": tech_opening, "make_user": make_user}


def run(pool, text, user=None, **kwargs):
    with pool["app"].test_request_context():
        return search.run(user or pool["hr"], text, **kwargs)


def names(result) -> list[str]:
    return sorted(h.candidate.name for h in result.items)


def test_taggers_give_competency_skill_and_scene_tags_with_evidence(pool):
    en = pool["en"]
    tags = {ct.tag.name: ct for ct in m.CandidateTag.select().where(m.CandidateTag.candidate == en.candidate)}
    assert {"negotiation", "teamwork", "resilience"} <= set(tags)
    assert tags["negotiation"].tag.kind == "competency" and tags["negotiation"].source == "competencies"
    assert tags["negotiation"].tag.label_zh == "客户谈判"
    assert 0.6 <= tags["negotiation"].score <= 1
    first = tags["negotiation"].evidence.order_by(m.TagEvidence.id).first()
    assert 53.2 <= first.start_seconds <= 58.4, "negotiation evidence must start in the negotiation answer"
    assert tags["negotiation_scenario"].tag.kind == "scene" and tags["negotiation_scenario"].tag.label_zh == "模拟谈判"
    assert tags["customer_success"].tag.kind == "skill"
    assert m.TranscriptSegment.select().where(m.TranscriptSegment.recording == en).count() >= 3
    # The interviewer's question is not indexed: only answers are.
    assert not m.TranscriptSegment.select().where(m.TranscriptSegment.text.contains("difficult customer")).exists()


def test_a_new_report_replaces_only_that_recordings_tagger_tags(pool):
    en, app = pool["en"], pool["app"]
    with app.test_request_context():
        manual = tagging.add_manual(pool["hr"], en.candidate, "strong closer", 0.9)
    before = m.CandidateTag.select().where(m.CandidateTag.candidate == en.candidate).count()
    with app.app_context():
        tagging.tag_recording(app, en)
    assert m.CandidateTag.select().where(m.CandidateTag.candidate == en.candidate).count() == before
    assert m.CandidateTag.get_by_id(manual.id).source == "manual"
    assert m.TranscriptSegment.select().where(m.TranscriptSegment.recording == en).count() == len(
        tagging.transcript_passages(m.Report.get(m.Report.recording == en).data))


def test_search_by_tag_lands_on_the_moment(pool):
    result = run(pool, "negotiation")
    assert names(result) == ["Alice Fixture", "王芳"]
    alice = next(h for h in result.items if h.candidate.name == "Alice Fixture")
    moment = alice.moments[0]
    assert moment.recording_id == pool["en"].id and 53.2 <= moment.second <= 58.4
    assert moment.url == f"/recordings/{pool['en'].id}?t={moment.second:g}"
    assert any(t["name"] == "negotiation" for t in alice.tags)


def test_search_by_labels_thresholds_and_boolean_logic(pool):
    assert names(run(pool, "客户谈判")) == ["Alice Fixture", "王芳"]  # the Chinese label
    assert names(run(pool, "Negotiation")) == ["Alice Fixture", "王芳"]  # any case
    assert names(run(pool, "模拟谈判")) == ["Alice Fixture", "王芳"]
    alice_score = m.CandidateTag.select().join(m.Tag).where((m.Tag.name == "logical_thinking") & (m.CandidateTag.candidate == pool["en"].candidate)).get().score
    zh_score = m.CandidateTag.select().join(m.Tag).where((m.Tag.name == "logical_thinking") & (m.CandidateTag.candidate == pool["zh"].candidate)).get().score
    assert alice_score < zh_score
    middle = round((alice_score + zh_score) / 2, 3)
    assert names(run(pool, f"logical_thinking>={middle}")) == ["王芳"]
    assert names(run(pool, f"logical_thinking<{middle}")) == ["Alice Fixture"]
    assert names(run(pool, f"negotiation NOT logical_thinking>={middle}")) == ["Alice Fixture"]
    assert names(run(pool, f"(logical_thinking>={middle} OR customer_success>=0.6) AND negotiation")) == sorted(
        n for n, s in (("Alice Fixture", True), ("王芳", True)))
    assert names(run(pool, "NOT negotiation")) == ["No Interview"]
    assert names(run(pool, "dept:销售部 negotiation")) == ["Alice Fixture"]
    assert names(run(pool, "opening:Backend")) == ["王芳"]
    assert names(run(pool, f"opening:{pool['sales_opening'].id}")) == ["Alice Fixture"]
    assert names(run(pool, "after:2000-01-01 before:2999-12-31 negotiation")) == ["Alice Fixture", "王芳"]
    assert names(run(pool, "before:2000-01-01")) == []


def test_full_text_in_english_and_chinese(pool):
    result = run(pool, '"full price"')
    assert names(result) == ["Alice Fixture"]
    moment = result.items[0].moments[0]
    assert "full price" in moment.snippet and 65 <= moment.second <= 69
    assert names(run(pool, '"renewing"')) == ["Alice Fixture"]  # stemmed: renewed, renewing
    zh = run(pool, '"折扣"')  # inside a longer jieba word of the transcript
    assert names(zh) == ["王芳"] and "折扣" in zh.items[0].moments[0].snippet
    assert names(run(pool, 'text:续约 negotiation')) == ["王芳"]
    assert names(run(pool, '"nothing like this was said"')) == []


@pytest.mark.parametrize("text", ['"price OR * NEAR AND"', '"price\\"', '"\'; DROP TABLE candidate; --"', '"NEAR(full price)"', '"full:price^"',
                                  '"50%_off"', 'text:"a"b"c"'])
def test_syntax_characters_are_text(pool, text):
    result = run(pool, text)  # never an SQL or FTS error
    assert result.total in (0, 1)
    assert m.Candidate.select().count() == 3


def test_unknown_tag_and_department_are_named(pool):
    with pytest.raises(QueryError, match="Unknown tag “negotiaton”. Did you mean: negotiation"):
        run(pool, "negotiaton")
    with pytest.raises(QueryError, match="Unknown department “Marketing”"):
        run(pool, "dept:Marketing")
    with pytest.raises(QueryError, match="No opening matches"):
        run(pool, "opening:Astronaut")
    with pytest.raises(QueryError, match="has no words"):
        run(pool, '"?!"')


def test_frequent_terms_and_broad_queries_are_capped(pool, monkeypatch):
    monkeypatch.setattr(search, "PASSAGE_CAP", 1)
    result = run(pool, '"customer"')  # said twice by Alice
    assert result.notes and "very many passages" in result.notes[0]
    monkeypatch.setattr(search, "MAX_TOTAL", 2)
    broad = run(pool, "NOT teamwork OR teamwork")  # everyone
    assert broad.total == 2 and broad.total_capped and any("Narrow the query" in n for n in broad.notes)
    with pytest.raises(Exception, match="page must be from 1 to 2"):
        run(pool, "teamwork", page=3, per_page=1)


def test_a_capped_word_gives_the_same_passages_every_time(pool):
    """A word in every passage of a table larger than a quarter of PostgreSQL's shared buffers:
    a sequential scan, which PostgreSQL would start where the previous one stopped
    (synchronize_seqscans), so each capped lookup kept different passages. The lookup keeps the
    first ones, every time, on both databases. 40,000 passages of 61 words (55 MB on PostgreSQL,
    whose default shared buffers are 128 MB), in one statement."""
    recording = pool["en"]
    database = m.TranscriptSegment._meta.database
    database.execute_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) "
        "INSERT INTO transcript_segment (recording_id, candidate_id, start_seconds, end_seconds, text, terms) "
        f"SELECT {database.param}, {database.param}, i, i + 1, 'zyxcommon', 'zyxcommon ' || {database.param} FROM n",
        (recording.id, recording.candidate_id, " ".join(f"filler{i % 40}" for i in range(60))))
    if is_postgres(database):
        database.execute_sql("ANALYZE transcript_segment")  # as autovacuum would: the planner then knows the word is everywhere
    backend = fulltext.backend_for(database)
    kept = [backend.find(database, ["zyxcommon"], 3000) for _ in range(3)]
    # The first passages: the ones inserted first, read back rather than assumed to follow the
    # highest id before the insert (a PostgreSQL sequence may have skipped values).
    seg = m.TranscriptSegment
    first = seg.select(seg.id).where(seg.text == "zyxcommon").order_by(seg.id).limit(3000)
    assert [row[0] for row in kept[0]] == [row.id for row in first]
    assert kept[1] == kept[2] == kept[0]


@pytest.mark.parametrize("text", ["teamwork", "teamwork AND NOT resilience", "negotiation OR teamwork",
                                  "NOT negotiation", "teamwork>=0.1 negotiation", '"full price" OR teamwork',
                                  "(negotiation>=0.5 OR teamwork) AND NOT resilience<0.3", "negotiation>0.2 teamwork>=0 NOT resilience",
                                  '"customer" negotiation', "(negotiation OR resilience) (teamwork OR negotiation>=0.9)"])
def test_every_plan_gives_the_same_hits(pool, monkeypatch, text):
    # The search walks the candidates probing each one's tags, or lists the candidates of the
    # most selective terms (plan.py); the hits, their order, the total and the moments must not
    # depend on which ran, nor on how many terms joined the list.
    plan.forget_counts()
    head = pool["make_user"]("plan_head", roles=("dept_head",), departments=[pool["sales"]])
    for user in (pool["hr"], head):  # the organisation, and a department's candidates only
        monkeypatch.setattr(plan, "should_list", lambda *args: False)
        walked = run(pool, text, user=user).as_dict()
        monkeypatch.setattr(plan, "should_list", lambda *args: True)
        for spread in (0.0, 2.0, 1e9):  # only the smallest listed, the default, every listable term listed
            monkeypatch.setattr(plan, "LIST_SPREAD", spread)
            assert run(pool, text, user=user).as_dict() == walked, (user.username, spread)
        # The listed set cut at what a result needs (HR only), here always asked again uncut:
        # fewer than the 1,001 it needs match in this small pool.
        monkeypatch.setattr(plan, "CUT_MARGIN", 0.0)
        assert run(pool, text, user=user).as_dict() == walked, (user.username, "cut")
        monkeypatch.setattr(plan, "CUT_MARGIN", 2.0)


@pytest.mark.parametrize("text", ["teamwork", "teamwork>=0 NOT resilience>=0.99", "(negotiation OR resilience) teamwork", "negotiation OR teamwork"])
def test_a_listed_set_cut_at_what_the_result_needs_gives_the_same_first_hits(pool, monkeypatch, text):
    monkeypatch.setattr(search, "MAX_TOTAL", 1)  # a result needs 2 ids: the first, and whether there is more
    monkeypatch.setattr(plan, "should_list", lambda *args: False)
    walked = run(pool, text, per_page=1).as_dict()
    monkeypatch.setattr(plan, "should_list", lambda *args: True)
    monkeypatch.setattr(plan, "CUT_MARGIN", 0.0)
    with pool["app"].test_request_context():
        _select, compiler = search.candidate_ids(pool["hr"], text, need=2)
    assert compiler.stopped_early
    assert run(pool, text, per_page=1).as_dict() == walked
    assert walked["total"] == 1 and walked["total_capped"]  # more than one matched: the cut was enough


def test_a_cut_listed_set_that_the_scope_thins_is_asked_again_uncut(pool, monkeypatch):
    # Against the rule that a candidate carries only their organisation's tags (written here by
    # hand): the newest teamwork candidate is another organisation's, so the cut set's first two
    # leave one after the scope, and the search asks again without the cut.
    monkeypatch.setattr(search, "MAX_TOTAL", 1)
    monkeypatch.setattr(plan, "should_list", lambda *args: False)
    walked = run(pool, "teamwork", per_page=1).as_dict()
    other = m.Organisation.create(name="Elsewhere")
    stranger = m.Candidate.create(organisation=other, name="Stranger")
    m.CandidateTag.create(candidate=stranger, tag=taxonomy.find_tag(default_organisation().id, "teamwork"), score=0.9)
    monkeypatch.setattr(plan, "should_list", lambda *args: True)
    monkeypatch.setattr(plan, "CUT_MARGIN", 0.0)
    with recorded_sql(m.Candidate._meta.database) as statements:
        assert run(pool, "teamwork", per_page=1).as_dict() == walked
    assert sum('AS "listed"' in s for s in statements) == 2  # the cut set, then the whole one
    # Asked again, the query reuses the tags it looked up: one look-up of names, one of families.
    assert sum(s.startswith('SELECT "t1"."id", "t1"."organisation_id", "t1"."name"') and 'FROM "tag"' in s for s in statements) == 1
    assert sum('"merged_into_id" IN' in s for s in statements) == 1


def test_the_plan_follows_how_many_candidates_each_term_matches(pool, monkeypatch):
    hr, app = pool["hr"], pool["app"]
    org = default_organisation().id
    with app.test_request_context():
        ids = {name: taxonomy.find_tag(org, name).id for name in ("negotiation", "teamwork", "resilience")}
        counted = {}
        monkeypatch.setattr(plan, "pool_size", lambda: 100_000)
        monkeypatch.setattr(plan, "matches_of", lambda leaf: counted[leaf.tag_ids[0]])

        def chosen(text):
            return search.candidate_ids(hr, text)[1].chosen

        # A third of the pool carries each tag: the newest 3,000 candidates give a page.
        counted.update({ids["negotiation"]: 33_000, ids["teamwork"]: 33_000, ids["resilience"]: 33_000})
        assert chosen("teamwork") == chosen("teamwork AND NOT resilience") == chosen("negotiation OR teamwork") == "walk"
        # One rare term in the AND: listing its 2,000 candidates beats walking 60,000.
        counted[ids["negotiation"]] = 2_000
        assert chosen("negotiation teamwork") == chosen("teamwork NOT resilience negotiation") == "list"
        # ... unless it is only one side of an OR.
        assert chosen("negotiation OR teamwork") == "walk"
        # A query made only of negations has nothing to list.
        assert chosen("NOT negotiation") == "walk"


def test_scoped_to_what_the_user_may_see(pool):
    head = pool["make_user"]("sales_head", roles=("dept_head",), departments=[pool["sales"]])
    assert names(run(pool, "negotiation", user=head)) == ["Alice Fixture"]
    nobody = pool["make_user"]("just_candidate", roles=("candidate",))
    with pool["app"].test_request_context():
        from talentreel.server.permissions import can

        assert not can(nobody, "search.run", app=pool["app"])


def test_rename_merge_and_synonyms_keep_earlier_searches_working(pool):
    hr, app = pool["hr"], pool["app"]
    org = default_organisation().id
    with app.test_request_context():
        saved = m.SavedSearch.create(user=hr, name="negotiators", query="negotiation>=0.5")
        before = names(search.run(hr, saved.query))
        negotiation = taxonomy.find_tag(org, "negotiation")
        taxonomy.rename(negotiation, actor=hr, name="deal_making", label_en="Deal making")
        assert names(search.run(hr, saved.query)) == before  # the old name is a synonym now
        assert names(search.run(hr, "deal_making")) == before
        assert names(search.run(hr, "Negotiation")) == before  # and the old label
        # Manual tag on the plain candidate, then merged into deal_making: both families found.
        tagging.add_manual(hr, pool["plain"], "haggler", 0.8)
        haggler = taxonomy.find_tag(org, "haggler")
        taxonomy.merge(haggler, taxonomy.find_tag(org, "deal_making"), actor=hr)
        assert names(search.run(hr, "haggler")) == names(search.run(hr, "deal_making")) == sorted(before + ["No Interview"])
        assert names(search.run(hr, saved.query)) == sorted(before + ["No Interview"])
        assert m.CandidateTag.select().where(m.CandidateTag.tag == haggler).count() == 1  # history kept
        with pytest.raises(Exception, match="already"):
            taxonomy.merge(haggler, taxonomy.find_tag(org, "deal_making"), actor=hr)
        taxonomy.add_synonym(taxonomy.find_tag(org, "teamwork"), "合作精神", "zh", actor=hr)
        assert names(search.run(hr, "合作精神")) == ["Alice Fixture", "王芳"]
        with pytest.raises(Exception, match="already names"):
            taxonomy.add_synonym(taxonomy.find_tag(org, "teamwork"), "deal_making", "en", actor=hr)
    actions = {e.action for e in m.AuditEvent.select()}
    assert {"tag.rename", "tag.merge", "tag.synonym"} <= actions


def test_migration_9_is_idempotent(pool, db):
    from talentreel.server import schema

    func = next(f for v, _n, f in schema.MIGRATIONS if v == 9)
    func(db, schema._migrator_for(db))  # again on a database that has it all
    assert names(run(pool, '"full price"')) == ["Alice Fixture"]


def test_migration_13_drops_the_candidate_tag_indexes_the_others_cover(pool, db):
    from talentreel.server import schema

    def indexes():
        return {i.name: tuple(i.columns) for i in db.get_indexes("candidate_tag")}

    # A database from before migration 13 has both; a new one never had them.
    assert not set(schema.CANDIDATE_TAG_REDUNDANT_INDEXES) & set(indexes())
    db.execute_sql("CREATE INDEX candidate_tag_tag_id ON candidate_tag (tag_id)")
    db.execute_sql("CREATE INDEX candidate_tag_recording ON candidate_tag (recording_id)")
    func = next(f for v, _n, f in schema.MIGRATIONS if v == 13)
    func(db, schema._migrator_for(db))
    func(db, schema._migrator_for(db))  # idempotent
    left = indexes()
    assert not set(schema.CANDIDATE_TAG_REDUNDANT_INDEXES) & set(left)
    # What covers them is still there: look-ups by tag, by recording, by candidate.
    assert left["candidate_tag_tag_score"][0] == left["candidate_tag_tag_candidate"][0] == "tag_id"
    assert left["candidate_tag_recording_id"] == ("recording_id",)
    assert left["candidate_tag_candidate_id"] == ("candidate_id",)
    assert names(run(pool, "negotiation>=0.5")) == names(run(pool, "negotiation>=0.5 OR negotiation<0.5"))


# --- API -----------------------------------------------------------------------------------------------


def bearer(user) -> dict:
    _row, token = create_api_token(user, "test")
    return {"Authorization": f"Bearer {token}"}


def test_api_search_and_saved_searches(pool, client):
    headers = bearer(pool["hr"])
    response = client.get(f"{API}/search", query_string={"q": "negotiation>=0.6 \"full price\""}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == 1 and body["items"][0]["candidate"]["name"] == "Alice Fixture"
    assert {mo["why"] for mo in body["items"][0]["moments"]} >= {"Negotiation", "“full price”"}
    assert all(mo["url"].startswith(f"/recordings/{pool['en'].id}?t=") for mo in body["items"][0]["moments"])
    for params, text in (({"q": ""}, "empty"), ({"q": "(a"}, "never closed"), ({"q": "nosuchtag"}, "Unknown tag"),
                         ({"q": "a", "per_page": "101"}, "per_page"), ({"q": "a", "sort": "x"}, "unknown")):
        bad = client.get(f"{API}/search", query_string=params, headers=headers)
        assert bad.status_code == 400 and text in bad.get_json()["error"], bad.get_json()
    assert client.get(f"{API}/search", query_string={"q": "(a"}, headers=headers).get_json()["field"] == "q"

    created = client.post(f"{API}/searches", json={"name": "closers", "query": "negotiation"}, headers=headers)
    assert created.status_code == 201
    refused = client.post(f"{API}/searches", json={"name": "broken", "query": "(negotiation"}, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["field"] == "query"
    listed = client.get(f"{API}/searches", headers=headers).get_json()["items"]
    assert [s["name"] for s in listed] == ["closers"]
    other = bearer(pool["make_user"]("other_hr", roles=("hr",)))
    assert client.delete(f"{API}/searches/{listed[0]['id']}", headers=other).status_code == 404
    assert client.delete(f"{API}/searches/{listed[0]['id']}", headers=headers).status_code == 204
    spec = client.get(f"{API}/openapi.json").get_json()
    assert {"/search", "/searches", "/searches/{search_id}"} <= set(spec["paths"])


class _DenyAlice:
    """A third-party policy that hides one candidate; it also notes every candidate it is asked about."""

    def __init__(self):
        self.asked = []

    @hookimpl
    def talentreel_permission(self, user, action, obj):
        if action == "candidate.view" and isinstance(obj, m.Candidate):
            self.asked.append(obj.id)
            if obj.name == "Alice Fixture":
                return False
        return None


def test_every_result_shown_is_still_asked_of_the_permission_hook(pool, client):
    # The rows of a page are checked as one batch (roles read once), but each row still goes to
    # every plugin, and one plugin's deny hides it, through the API as in search.run.
    plugins = pool["app"].extensions["talentreel"].plugins
    deny = _DenyAlice()
    plugins.register(deny, name="deny-alice")
    try:
        result = run(pool, "teamwork")
        assert names(result) == ["王芳"]
        assert sorted(deny.asked) == sorted([pool["en"].candidate_id, pool["zh"].candidate_id])
        body = client.get(f"{API}/search", query_string={"q": "teamwork"}, headers=bearer(pool["hr"])).get_json()
        assert [i["candidate"]["name"] for i in body["items"]] == ["王芳"]
    finally:
        plugins.unregister(name="deny-alice")
    assert names(run(pool, "teamwork")) == ["Alice Fixture", "王芳"]


def test_roles_are_read_once_per_search_and_again_at_the_next(pool, db):
    hr = pool["hr"]
    with recorded_sql(db) as statements:
        assert names(run(pool, "teamwork")) == ["Alice Fixture", "王芳"]
    assert sum('"user_role"' in sql for sql in statements) == 1
    m.UserRole.delete().where(m.UserRole.user == hr).execute()
    assert names(run(pool, "teamwork")) == []  # no role any more: nothing in scope, at once
    assert hr.roles == set()


def test_api_search_is_audited_with_the_candidates_shown(pool, client):
    headers = bearer(pool["hr"])
    before = m.AuditEvent.select().where(m.AuditEvent.action == "pool.search").count()
    body = client.get(f"{API}/search", query_string={"q": "teamwork"}, headers=headers).get_json()
    events = list(m.AuditEvent.select().where(m.AuditEvent.action == "pool.search").order_by(m.AuditEvent.id))
    assert len(events) == before + 1
    assert events[-1].actor_id == pool["hr"].id
    assert sorted(events[-1].details["candidates"]) == sorted(i["candidate"]["id"] for i in body["items"])
    from talentreel.server import audit

    assert audit.verify() == []
    database = m.AuditEvent._meta.database
    if "postgres" in type(getattr(database, "obj", database)).__name__.lower():
        # The search's event did not wait for the disk; that stayed inside its own transaction.
        assert database.execute_sql("SHOW synchronous_commit").fetchone()[0] == "on"


def test_cli_search_json(pool, data_dir, database_url):
    env = {"TALENTREEL_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), "search", "negotiation", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert sorted(h["candidate"]["name"] for h in data["items"]) == ["Alice Fixture", "王芳"]
    bad = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), "search", "(negotiation"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "never closed" in bad.stderr and "Traceback" not in bad.stderr


# --- web -----------------------------------------------------------------------------------------------


def test_web_search_compare_export_attach(pool, client, login):
    login(pool["hr"])
    page = client.get("/pool?q=negotiation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/recordings/{pool["en"].id}?t=' in html and "Alice Fixture" in html
    bad = client.get("/pool?q=%28negotiation")
    assert bad.status_code == 400 and "never closed" in bad.get_data(as_text=True)
    zh_page = client.get("/pool?q=negotiation", headers={"Accept-Language": "zh-CN"})
    assert zh_page.status_code == 200

    ids = [pool["en"].candidate_id, pool["zh"].candidate_id]
    compare = client.get("/pool/compare", query_string={"c": ids})
    assert compare.status_code == 200
    text = compare.get_data(as_text=True)
    assert "Alice Fixture" in text and "王芳" in text and "Negotiation" in text
    assert client.get("/pool/compare", query_string={"c": ids[:1]}).status_code == 302  # two at least

    csv_body = client.get("/pool/shortlist.csv", query_string={"c": ids}).get_data()
    rows = csv_body.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Candidate,E-mail") and any(r.startswith("王芳") for r in rows)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/pool/shortlist.xlsx", query_string={"c": ids}).get_data()))
    values = [[c.value for c in row] for row in book.active.iter_rows()]
    assert values[0][0] == "Candidate" and {r[0] for r in values[1:]} == {"Alice Fixture", "王芳"}

    form = client.get("/pool?q=negotiation").get_data(as_text=True)
    attach = client.post("/pool/attach", data={"candidate": pool["zh"].candidate_id, "opening": pool["sales_opening"].id,
                                               "csrf_token": csrf_token_from(form)})
    assert attach.status_code == 302
    assert m.Application.get((m.Application.candidate == pool["zh"].candidate_id) & (m.Application.opening == pool["sales_opening"])).status == "pool"
    assert m.Interview.select().where(m.Interview.candidate == pool["zh"].candidate_id).count() == 1  # no new interview

    save = client.post("/pool/searches", data={"name": "my negotiators", "q": "negotiation", "csrf_token": csrf_token_from(form)})
    assert save.status_code == 302 and m.SavedSearch.get(m.SavedSearch.name == "my negotiators").query == "negotiation"


def test_web_tag_taxonomy_page(pool, client, login):
    login(pool["hr"])
    page = client.get("/pool/tags")
    assert page.status_code == 200
    tag = taxonomy.find_tag(default_organisation().id, "teamwork")
    token = csrf_token_from(page.get_data(as_text=True))
    client.post(f"/pool/tags/{tag.id}", data={"action": "rename", "name": "collaboration", "label_en": "Collaboration",
                                              "label_zh": "团队协作", "csrf_token": token})
    assert m.Tag.get_by_id(tag.id).name == "collaboration"
    assert client.get("/pool?q=teamwork").status_code == 200  # the old name still searches


def test_pool_pages_need_permission(pool, client, login):
    login(pool["make_user"]("cand", roles=("candidate",)))
    assert client.get("/pool?q=negotiation").status_code == 403
    assert client.get("/pool/tags").status_code == 403


def test_replay_opens_at_the_requested_second(pool, client, login):
    from talentreel.server.playback.views import start_second

    recording = pool["en"]
    assert start_second("53.5", recording) == 53.5
    assert start_second("-1", recording) is None and start_second("nan", recording) is None
    assert start_second("1e9", recording) is None and start_second("x", recording) is None


def test_a_listed_question_never_heard_gives_no_scene_and_breaks_no_tags(pool):
    """A question of the list that was never asked has no moment (start None): the scene tagger
    must not point at it, and evidence without a time never sinks the recording's other tags."""
    from talentreel.plugins import tagger_evidence

    en, app = pool["en"], pool["app"]
    report = m.Report.get(m.Report.recording == en)
    data = dict(report.data)
    data["questions"] = [dict(q, start=None, end=None, asked=None) for q in data["questions"]]
    assert all(h["start"] is not None for t in tagger_evidence.scenes(data, None) for h in t["evidence"])

    # A tagger that slips: its timeless moment is left out, the rest is stored.
    def sloppy(report_data, competencies):
        return [{"tag": "negotiation", "score": 0.5, "evidence": [{"start": None, "why": "?"}, {"start": 3.0, "why": "ok"}]}]

    descriptions = [{"name": "sloppy", "run": "sloppy"}]
    with app.app_context(), \
            mock.patch.object(tagging, "taggers", lambda _app: descriptions), \
            mock.patch.object(tagging, "resolve", lambda path: sloppy):
        result = tagging.tag_recording(app, en)
    assert result["taggers"] == {"sloppy": "ran"}
    row = m.CandidateTag.get((m.CandidateTag.recording == en) & (m.CandidateTag.source == "sloppy"))
    assert [e.start_seconds for e in row.evidence] == [3.0]
