"""Reviewers' ratings in the talent pool and interviewer calibration: the bias computation on known
numbers, the scope of each role (a department head never counts another department's ratings,
an interviewer never opens the page), the compare page's ratings and links, the export's column."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from conftest import PASSWORD, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis.report import latest
from talentreel.server.auth import passwords
from talentreel.server.pool import taxonomy
from talentreel.server.review import comments, raters
from talentreel.server.review.raters import Observation
from test_review import analysed_recording

NEGOTIATION = "negotiation"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# --- the computation, on known numbers ---------------------------------------------------------


def obs(rater_id, candidate, rating, competency=NEGOTIATION):
    return Observation(rater_id, f"rater {rater_id}", candidate, competency, rating)


def by_id(reports) -> dict:
    return {r.rater_id: r for r in reports}


def calibrate(observations, evidence=None):
    return by_id(raters.calibrate(observations, evidence or {}, {NEGOTIATION: "Negotiation"}, "All", "Overall"))


def line(report, key=NEGOTIATION):
    return next(ln for ln in report.competencies if ln.key == key)


def test_two_points_above_the_only_peer_on_three_candidates_flags_both_ways():
    reports = calibrate([obs(1, c, 5) for c in (1, 2, 3)] + [obs(2, c, 3) for c in (1, 2, 3)])
    a, b = line(reports[1]), line(reports[2])
    assert (a.peers.count, a.peers.bias, a.peers.spread, a.peers.flag) == (3, 2.0, 2.0, "over")
    assert (b.peers.bias, b.peers.flag) == (-2.0, "under")  # with one peer, each is the other's yardstick
    assert reports[1].flags == [(a, "peers", "over")]
    assert reports[1].overall.peers.bias == 2.0 and reports[1].overall.mean_rating == 5.0


def test_a_generous_rater_among_consistent_ones():
    observations = [obs(1, c, 5) for c in (1, 2, 3)]  # two points above the others
    observations += [obs(rater, c, 3) for rater in (2, 3, 4) for c in (1, 2, 3)]
    reports = calibrate(observations)
    assert line(reports[1]).peers.flag == "over" and line(reports[1]).peers.bias == pytest.approx(2.0)
    for steady in (2, 3, 4):
        peers = line(reports[steady]).peers
        assert peers.bias == pytest.approx(-2 / 3) and peers.count == 3
        assert peers.flag is None and reports[steady].flags == []  # 0.67 < 0.75: the generous one pulls, not a habit


def test_too_few_shared_candidates_flag_nothing():
    reports = calibrate([obs(1, c, 5) for c in (1, 2)] + [obs(2, c, 1) for c in (1, 2)] + [obs(1, 3, 5)])
    peers = line(reports[1]).peers
    assert peers.count == 2 and peers.bias == 4.0 and peers.flag is None  # candidate 3 was rated by one interviewer only
    assert raters.MIN_SHARED == 3


def test_several_ratings_of_one_candidate_count_once_as_their_mean():
    reports = calibrate([obs(1, 1, 5), obs(1, 1, 3), obs(2, 1, 2)])
    peers = line(reports[1]).peers
    assert peers.diffs == [2.0] and line(reports[1]).ratings == [5, 3]


def test_competencies_and_overall_ratings_are_separate_cells():
    reports = calibrate([obs(1, 1, 5, None), obs(2, 1, 1, NEGOTIATION)])
    assert reports[1].overall.peers.count == 0  # one rated the candidate overall, the other their negotiation
    assert [ln.label for ln in reports[1].competencies] == ["Overall"]


def test_against_the_evidence_on_the_ai_scale():
    evidence = {(c, NEGOTIATION): 0.5 for c in (1, 2, 3)}
    reports = calibrate([obs(1, c, 5) for c in (1, 2, 3)] + [obs(2, c, 3) for c in (1, 2, 3)] + [obs(2, 4, 3, None)], evidence)
    generous, steady = line(reports[1]).evidence, line(reports[2]).evidence
    assert generous.diffs == [0.5, 0.5, 0.5] and generous.flag == "over"  # (5 - 1) / 4 = 1.0 against 0.5
    assert steady.diffs == [0.0, 0.0, 0.0] and steady.flag is None  # (3 - 1) / 4 = 0.5: as the evidence says
    assert reports[2].overall.evidence.count == 3  # the overall rating of candidate 4 has no evidence to meet
    assert raters.EVIDENCE_FLAG == raters.FLAG_POINTS / 4


# --- a world built through the models and services -----------------------------------------------


def rate(recording, author, rating, body, **values):
    return comments.add(recording, latest(recording), author, {"body": body, "rating": rating, **values})


def rated_world(make_user) -> dict:
    """Sales candidates S1-S3, each interviewed by Ann (generous: 5) and Ben, Cara and Dan (3) on
    negotiation, which the AI scored 0.5; S1 also has a panel recording nobody was assigned to, rated
    1 by HR. Tech candidate T1, rated overall by Tess (1) and Ben (4). The department head heads sales."""
    org = default_organisation()
    sales = m.Department.create(organisation=org, name="销售部")
    tech = m.Department.create(organisation=org, name="技术部")
    sales_opening = m.Opening.create(organisation=org, department=sales, title="Key Account Manager")
    tech_opening = m.Opening.create(organisation=org, department=tech, title="Backend Engineer")
    users = {
        "hr": make_user("hana", roles=("hr",), display_name="Hana HR"),
        "head": make_user("sally", roles=("dept_head",), departments=(sales,), display_name="Sally Head"),
        "it": make_user("ivan", roles=("it_admin",), display_name="Ivan IT"),
        "ann": make_user("ann", roles=("interviewer",), display_name="Ann Generous"),
        "ben": make_user("ben", roles=("interviewer",), display_name="Ben Steady"),
        "cara": make_user("cara", roles=("interviewer",), display_name="Cara Steady"),
        "dan": make_user("dan", roles=("interviewer",), display_name="Dan Steady"),
        "tess": make_user("tess", roles=("interviewer",), display_name="Tess Tech"),
    }
    negotiation = taxonomy.ensure_tag(org.id, NEGOTIATION, "competency", {"en": "Negotiation", "zh": "客户谈判"})
    candidates, recordings = {}, {}
    for name, opening, panel in (("S1", sales_opening, ("ann", "ben", "cara", "dan")), ("S2", sales_opening, ("ann", "ben", "cara", "dan")),
                                 ("S3", sales_opening, ("ann", "ben", "cara", "dan")), ("T1", tech_opening, ("tess", "ben"))):
        candidate = m.Candidate.create(organisation=org, name=f"Candidate {name}", email=f"{name.lower()}@example.com", in_talent_pool=True)
        m.Application.create(candidate=candidate, opening=opening)
        interview = m.Interview.create(candidate=candidate, opening=opening, questions=["Tell me about a team."])
        for who in panel:
            m.InterviewInterviewer.create(interview=interview, user=users[who])
        candidates[name], recordings[name] = candidate, analysed_recording(org, interview)
        m.CandidateTag.create(candidate=candidate, tag=negotiation, score=0.5, source="competencies", recording=recordings[name])
    for name in ("S1", "S2", "S3"):
        rate(recordings[name], users["ann"], 5, f"Outstanding negotiator, {name}.", competency="Negotiation", start_seconds=12)
        for who in ("ben", "cara", "dan"):
            rate(recordings[name], users[who], 3, f"Solid, held the price. ({who})", competency="客户谈判", question_index=0)
    rate(recordings["T1"], users["tess"], 1, "Could not explain the design.")
    rate(recordings["T1"], users["ben"], 4, "Clear about trade-offs.")
    panel = m.Interview.create(candidate=candidates["S1"], opening=sales_opening)  # nobody assigned
    recordings["S1 panel"] = analysed_recording(org, panel)
    rate(recordings["S1 panel"], users["hr"], 1, "Private HR note: late twice.")
    # A manual score is HR's judgement, not evidence: it must not move anyone against the evidence.
    m.CandidateTag.create(candidate=candidates["S2"], tag=negotiation, score=1.0, source="manual")
    return {"org": org, "users": users, "candidates": candidates, "recordings": recordings, "sales": sales}


@pytest.fixture
def world(db, make_user):
    return rated_world(make_user)


def reports_for(user) -> dict:
    observations, evidence, labels = raters.read(user, "en")
    return {r.name: r for r in raters.calibrate(observations, evidence, labels, "All", "Overall")}


def test_calibration_from_the_database(world):
    reports = reports_for(world["users"]["hr"])
    assert set(reports) == {"Ann Generous", "Ben Steady", "Cara Steady", "Dan Steady", "Tess Tech", "Hana HR"}
    ann = line(reports["Ann Generous"])
    assert ann.label == "Negotiation"  # "Negotiation" and "客户谈判" are one tag
    assert (ann.peers.count, ann.peers.bias, ann.peers.flag) == (3, 2.0, "over")
    assert ann.evidence.diffs == [0.5, 0.5, 0.5] and ann.evidence.flag == "over"  # the manual 1.0 of S2 is not evidence
    ben = reports["Ben Steady"]
    assert line(ben).peers.bias == pytest.approx(-2 / 3) and line(ben).peers.flag is None
    assert line(ben).evidence.bias == 0.0
    tess_overall = line(reports["Tess Tech"], None).peers
    assert tess_overall.diffs == [-3.0] and tess_overall.flag is None  # one shared candidate: not a habit
    assert len(ben.overall.ratings) == 4


def test_a_department_head_counts_only_their_departments_candidates(world):
    reports = reports_for(world["users"]["head"])
    assert "Tess Tech" not in reports  # she rated only the tech candidate
    assert len(reports["Ben Steady"].overall.ratings) == 3  # his rating of T1 is not counted
    assert line(reports["Ann Generous"]).peers.flag == "over"
    assert reports_for(world["users"]["ben"]) == {}  # no scope for an interviewer, whatever the caller


def signed_in(app, user):
    client = app.test_client()
    page = client.get("/login")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD,
                                       "csrf_token": csrf_token_from(page.get_data(as_text=True))}).status_code == 302
    return client


def test_calibration_page_permissions_and_scope(world, app, client, login):
    for who in ("ann", "tess"):  # interviewers: their ratings are what the page judges
        assert signed_in(app, world["users"][who]).get("/reviews/calibration").status_code == 403
    login(world["users"]["head"])
    page = client.get("/reviews/calibration")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Ann Generous" in html and "Tess Tech" not in html
    assert "Negotiation: rates higher than other interviewers" in html
    assert "Only the ratings of your departments" in html
    assert 'id="rater-calibration-link"' in client.get("/pool").get_data(as_text=True)
    event = m.AuditEvent.select().where(m.AuditEvent.action == "rater_calibration.view").order_by(m.AuditEvent.id.desc()).first()
    assert event.details == {"ratings": 13, "interviewers": 5}  # S1-S3's twelve and HR's of S1's panel


def test_it_admin_sees_the_aggregates_and_no_candidate(world, client, login):
    login(world["users"]["it"])
    html = client.get("/reviews/calibration").get_data(as_text=True)
    assert "Tess Tech" in html and "Ann Generous" in html and "+2.00" in html
    assert "Candidate S1" not in html and "negotiator" not in html  # no candidate, no comment
    assert client.get("/pool/compare", query_string={"c": [world["candidates"]["S1"].id, world["candidates"]["S2"].id]}).status_code == 403


def test_calibration_page_in_chinese(world, client, login):
    login(world["users"]["hr"])
    html = client.get("/reviews/calibration", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "客户谈判" in html and "面试官校准" in html


# --- the compare page and the export ---------------------------------------------------------------


def compare(client, world, *names):
    return client.get("/pool/compare", query_string={"c": [world["candidates"][n].id for n in names]})


def test_compare_shows_reviewers_ratings_with_links(world, client, login):
    login(world["users"]["hr"])
    page = compare(client, world, "S1", "T1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Reviewers: 3.0 / 5 from 5 ratings" in html  # S1: 5, 3, 3, 3 and HR's 1
    assert "Reviewers: 3.5 / 5 from 4 ratings" in html  # S1's negotiation
    assert "Reviewers: 2.5 / 5 from 2 ratings" in html  # T1 overall
    assert "Ann Generous" in html and "Outstanding negotiator, S1." in html and "Private HR note" in html
    s1 = world["recordings"]["S1"].id
    assert f'href="/recordings/{s1}?t=12"' in html  # Ann's moment
    assert f'href="/recordings/{s1}?t=9"' in html  # the answer to question 1, which the others rated
    assert f'href="/recordings/{world["recordings"]["T1"].id}"' in html  # no moment, no question: from the start


def test_an_interviewer_sees_only_ratings_of_interviews_they_sat_on(world, client, login):
    login(world["users"]["ben"])
    html = compare(client, world, "S1", "S2").get_data(as_text=True)
    assert "Reviewers: 3.5 / 5 from 4 ratings" in html and "Private HR note" not in html
    event = m.AuditEvent.select().where((m.AuditEvent.action == "candidate.view")
                                        & (m.AuditEvent.object_id == str(world["candidates"]["S1"].id))).order_by(m.AuditEvent.id.desc()).first()
    assert event.details == {"via": "talent pool", "ratings": 4}


def test_a_department_head_cannot_compare_another_departments_candidate(world, client, login):
    login(world["users"]["head"])
    assert compare(client, world, "S1", "S2").status_code == 200
    assert compare(client, world, "S1", "T1").status_code == 404


def test_export_has_the_average_rating(world, client, login):
    login(world["users"]["hr"])
    ids = [world["candidates"][n].id for n in ("S1", "T1", "S2")]
    rows = client.get("/pool/shortlist.csv", query_string={"c": ids}).get_data().decode("utf-8-sig").splitlines()
    header = rows[0].split(",")
    assert header[:2] == ["Candidate", "E-mail"] and "Average rating (1-5)" in header
    column, count = header.index("Average rating (1-5)"), header.index("Ratings")
    values = {r.split(",")[0]: (r.split(",")[column], r.split(",")[count]) for r in rows[1:]}
    assert values == {"Candidate S1": ("3.0", "5"), "Candidate T1": ("2.5", "2"), "Candidate S2": ("3.5", "4")}
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/pool/shortlist.xlsx", query_string={"c": ids}).get_data()))
    sheet = [[c.value for c in row] for row in book.active.iter_rows()]
    column = sheet[0].index("Average rating (1-5)")
    assert [row[column] for row in sheet[1:]] == [3.0, 2.5, 3.5]
