"""The HR web pages: who sees which list and detail, filters and pages, the create forms and CSRF."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from conftest import csrf_token_from

from argon2 import PasswordHasher

from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.plugins import hookimpl


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    # Four accounts per test at argon2's real cost is most of this module's run time; hashing is
    # tested in test_auth.py, here it only has to work.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(db, make_user):
    """Two departments, three openings, three candidates of ours and one of another organisation,
    an upcoming and a past interview, and one user per role."""
    org = default_organisation()
    eng = m.Department.create(organisation=org, name="Engineering")
    sales = m.Department.create(organisation=org, name="Sales")
    backend = m.Opening.create(organisation=org, department=eng, title="Backend engineer")
    account_exec = m.Opening.create(organisation=org, department=sales, title="Account executive")
    old = m.Opening.create(organisation=org, department=eng, title="Intern 2019", status="closed")
    alice = m.Candidate.create(organisation=org, name="Alice Zhang", email="alice@example.com", phone="+86 138 0000 1111")
    bob = m.Candidate.create(organisation=org, name="Bob Li", email="bob@example.com")
    carol = m.Candidate.create(organisation=org, name="Carol Wu", phone="021-5555-0000")
    m.Application.create(candidate=alice, opening=backend)
    m.Application.create(candidate=bob, opening=account_exec)
    other_org = m.Organisation.create(name="Other Co")
    mallory = m.Candidate.create(organisation=other_org, name="Mallory Outsider")

    hr = make_user("hana", roles=("hr",), display_name="Hana HR")
    head = make_user("hugo", roles=("dept_head",), departments=(eng,), display_name="Hugo Head")
    ivy = make_user("ivy", roles=("interviewer",), display_name="Ivy Interviewer")
    root = make_user("root", roles=("it_admin",), display_name="Root Admin")

    now = m.utcnow()
    upcoming = m.Interview.create(candidate=bob, opening=account_exec, scheduled_at=now + dt.timedelta(days=2),
                                  questions=["Tell us about a deal you lost.", "Why sales?"])
    m.InterviewInterviewer.create(interview=upcoming, user=ivy)
    past = m.Interview.create(candidate=alice, opening=backend, scheduled_at=now - dt.timedelta(days=3),
                              questions=["Design a rate limiter."], status="completed")
    recording = m.Recording.create(candidate=alice, interview=past, state="ready", original_name="alice-round1.mp4",
                                   size_bytes=123_400_000, duration_seconds=1865)
    return SimpleNamespace(**locals())


def text(response) -> str:
    return response.get_data(as_text=True)


def nav_of(html: str) -> str:
    return re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)


# --- who sees what ----------------------------------------------------------------------------


def test_hr_sees_every_list_and_detail(client, login, world):
    login(world.hr)
    dashboard = text(client.get("/"))
    assert all(area in nav_of(dashboard) for area in ("/candidates", "/openings", "/interviews"))
    assert "Bob Li" in dashboard and "Carol Wu" in dashboard  # upcoming interview, latest candidates

    candidates = text(client.get("/candidates"))
    for name in ("Alice Zhang", "Bob Li", "Carol Wu"):
        assert name in candidates
    assert "Mallory" not in candidates
    assert "Backend engineer" in candidates  # the openings a candidate applied to

    detail = client.get(f"/candidates/{world.alice.id}")
    assert detail.status_code == 200
    page = text(detail)
    for expected in ("alice@example.com", "+86 138 0000 1111", "Backend engineer", "alice-round1.mp4", "Ready", "31:05"):
        assert expected in page

    assert client.get(f"/candidates/{world.mallory.id}").status_code == 404
    assert client.get("/candidates/999999").status_code == 404

    openings = text(client.get("/openings"))
    assert "Backend engineer" in openings and "Account executive" in openings
    assert "Intern 2019" not in openings  # open ones by default
    assert "Intern 2019" in text(client.get("/openings?status=closed"))
    assert client.get(f"/openings/{world.backend.id}").status_code == 200

    upcoming = text(client.get("/interviews"))
    assert 'aria-current="page">Upcoming</a>' in upcoming
    assert "Bob Li" in upcoming and "Ivy Interviewer" in upcoming and "Alice Zhang" not in upcoming
    past = text(client.get("/interviews?when=past"))
    assert "Alice Zhang" in past and "Bob Li" not in past

    world.upcoming.scheduled_at = m.utcnow() - dt.timedelta(minutes=20)  # under way: still upcoming
    world.upcoming.save()
    assert "Bob Li" in text(client.get("/interviews")) and "Bob Li" not in text(client.get("/interviews?when=past"))
    interview = text(client.get(f"/interviews/{world.upcoming.id}"))
    assert "Tell us about a deal you lost." in interview and "Why sales?" in interview


def test_candidate_view_is_audited(client, login, world):
    login(world.hr)
    client.get(f"/candidates/{world.alice.id}")
    event = m.AuditEvent.select().where(m.AuditEvent.action == "candidate.view").get()
    assert (event.object_type, event.object_id, event.actor_id) == ("candidate", str(world.alice.id), world.hr.id)


def test_dept_head_sees_own_departments_candidates_only(client, login, world):
    login(world.head)
    nav = nav_of(text(client.get("/")))
    assert "/candidates" in nav and "/openings" in nav

    candidates = text(client.get("/candidates"))
    assert "Alice Zhang" in candidates
    assert "Bob Li" not in candidates and "Carol Wu" not in candidates
    assert client.get(f"/candidates/{world.alice.id}").status_code == 200
    assert client.get(f"/candidates/{world.bob.id}").status_code == 404

    openings = text(client.get("/openings?status=all"))
    assert "Backend engineer" in openings and "Intern 2019" in openings
    assert "Account executive" not in openings
    assert "Sales" not in openings  # the department filter offers only the head's departments
    assert client.get(f"/openings/{world.account_exec.id}").status_code == 404

    interviews = text(client.get("/interviews?when=all"))
    assert "Alice Zhang" in interviews and "Bob Li" not in interviews
    assert "No interviews are scheduled." in text(client.get("/interviews"))  # Alice's was in the past
    assert client.get(f"/interviews/{world.upcoming.id}").status_code == 404

    assert client.get("/candidates/new").status_code == 403
    assert "/candidates/new" not in candidates  # no "Add candidate" button either


def test_interviewer_sees_assigned_interviews_only(client, login, world):
    login(world.ivy)
    nav = nav_of(text(client.get("/")))
    assert "/interviews" in nav and "/candidates" in nav and "/openings" not in nav

    interviews = text(client.get("/interviews"))
    assert "Bob Li" in interviews
    assert "No interviews." in text(client.get("/interviews?when=past"))
    assert client.get(f"/interviews/{world.upcoming.id}").status_code == 200
    assert client.get(f"/interviews/{world.past.id}").status_code == 404
    candidates = text(client.get("/candidates"))
    assert "Bob Li" in candidates and "Alice Zhang" not in candidates
    assert client.get(f"/candidates/{world.alice.id}").status_code == 404
    bob = text(client.get(f"/candidates/{world.bob.id}"))
    assert "bob@example.com" in bob and "Scheduled" in bob
    assert "/openings/" not in bob.split("<main>")[1]  # the opening's title, not a link the interviewer may not follow
    assert client.get("/openings").status_code == 403
    assert client.get("/interviews/new").status_code == 403


def test_it_admin_sees_no_candidate_data(client, login, world):
    login(world.root)
    dashboard = text(client.get("/"))
    assert client.get("/").status_code == 200
    nav = nav_of(dashboard)
    assert "/candidates" not in nav and "/openings" not in nav and "/interviews" not in nav
    for name in ("Alice", "Bob", "Carol"):
        assert name not in dashboard
    for path in ("/candidates", "/openings", "/interviews", "/candidates/new"):
        assert client.get(path).status_code == 403, path
    for path in (f"/candidates/{world.alice.id}", f"/openings/{world.backend.id}", f"/interviews/{world.past.id}"):
        assert client.get(path).status_code == 404, path


def test_pages_need_sign_in(client, world):
    for path in ("/", "/candidates", f"/candidates/{world.alice.id}", "/openings", "/interviews", "/interviews/new"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


class DenyCarol:
    """A third-party policy narrowing the default one: any deny wins, on lists too."""

    @hookimpl
    def talentreel_permission(self, user, action, obj):
        if isinstance(obj, m.Candidate) and obj.name == "Carol Wu":
            return False
        return None


def test_plugin_deny_hides_rows_the_scoped_query_returns(app, client, login, world):
    app.extensions["talentreel"].plugins.register(DenyCarol(), name="deny-carol")
    login(world.hr)
    assert "Carol Wu" not in text(client.get("/candidates"))
    assert "Carol Wu" not in text(client.get("/"))
    assert client.get(f"/candidates/{world.carol.id}").status_code == 404


def test_every_stored_state_has_a_label():
    from talentreel.server.web.display import STATUS_LABELS

    assert set(m.RECORDING_STATES) <= set(STATUS_LABELS["recording"])
    assert {code for code, _ in m.Opening.status.choices} <= set(STATUS_LABELS["opening"])


# --- filters and pages ------------------------------------------------------------------------


def test_candidate_search_by_name_email_and_phone(client, login, world):
    login(world.hr)
    everyone = {"Alice Zhang", "Bob Li", "Carol Wu"}

    def found(search: str) -> set[str]:
        page = text(client.get("/candidates", query_string={"q": search}))
        return {name for name in everyone if name in page}

    assert found("alice") == {"Alice Zhang"}
    assert found("bob@example") == {"Bob Li"}
    assert found("5555") == {"Carol Wu"}
    assert found("Bob\x00") == {"Bob Li"}  # PostgreSQL refuses NUL in a query; it is dropped
    assert found("%") == set()  # a wildcard is searched for, not expanded
    assert "No candidate matches" in text(client.get("/candidates?q=nobody"))


def test_openings_filter_by_department_and_count_candidates(client, login, world):
    login(world.hr)
    page = text(client.get("/openings", query_string={"department": world.sales.id}))
    assert "Account executive" in page and "Backend engineer" not in page
    row = re.search(r"Account executive.*?</tr>", page, re.S).group(0)
    assert re.search(r'class="num">1<', row)


def test_lists_are_paginated_by_fifty(client, login, world):
    for n in range(60):
        m.Candidate.create(organisation=world.org, name=f"Bulk candidate {n:02d}")
    login(world.hr)
    first = text(client.get("/candidates"))
    assert first.count('<td class="primary">') == 50
    assert "Page 1 of 2" in first and 'rel="next" href="/candidates?page=2"' in first
    second = text(client.get("/candidates?page=2"))
    assert second.count('<td class="primary">') == 13
    assert "Alice Zhang" in second  # oldest last
    searched = text(client.get("/candidates?q=Bulk"))
    assert 'href="/candidates?q=Bulk&amp;page=2"' in searched  # the pager keeps the search
    assert client.get("/candidates?page=oops").status_code == 200
    beyond = text(client.get("/candidates?page=99999999999999999999"))
    assert "Page 2 of 2" in beyond and "Alice Zhang" in beyond


# --- create forms -----------------------------------------------------------------------------


def post_form(client, path, data):
    token = csrf_token_from(text(client.get(path)))
    return client.post(path, data={**data, "csrf_token": token})


def test_hr_adds_a_candidate(client, login, world):
    login(world.hr)
    page = client.get("/candidates/new")
    assert page.status_code == 200 and "Backend engineer" in text(page)
    response = post_form(client, "/candidates/new", {"name": "  Dan Zhou ", "email": "dan@example.com", "phone": "+86 139 1234 5678",
                                                     "opening": str(world.backend.id)})
    assert response.status_code == 302
    dan = m.Candidate.get(m.Candidate.name == "Dan Zhou")
    assert response.headers["Location"] == f"/candidates/{dan.id}"
    assert (dan.email, dan.phone, dan.organisation_id) == ("dan@example.com", "+86 139 1234 5678", world.org.id)
    assert m.Application.select().where((m.Application.candidate == dan) & (m.Application.opening == world.backend)).exists()
    assert "Dan Zhou was added" in text(client.get(response.headers["Location"]))
    assert m.AuditEvent.select().where(m.AuditEvent.action == "candidate.create").exists()


def test_candidate_form_explains_every_problem_and_keeps_input(client, login, world):
    login(world.hr)
    response = post_form(client, "/candidates/new", {"name": "", "email": "not-an-address", "phone": "call me", "opening": "424242"})
    assert response.status_code == 400
    page = text(response)
    assert "Enter the candidate&#39;s name." in page
    assert "This is not an e-mail address" in page
    assert "Enter a phone number" in page
    assert "This choice is not available any more" in page
    assert 'value="not-an-address"' in page and 'value="call me"' in page
    assert page.count('aria-invalid="true"') == 4
    assert m.Candidate.select().count() == 4  # nothing added

    forged = post_form(client, "/candidates/new", {"name": "Nul\x00l Person\x07"})
    assert forged.status_code == 302
    assert m.Candidate.select().where(m.Candidate.name == "Null Person").exists()

    duplicate = post_form(client, "/candidates/new", {"name": "Alice again", "email": "ALICE@example.com"})
    assert duplicate.status_code == 400
    assert "A candidate with this e-mail address exists already." in text(duplicate)
    assert 'value="Alice again"' in text(duplicate)


def test_hr_adds_an_opening(client, login, world):
    login(world.hr)
    response = post_form(client, "/openings/new", {"title": "Data engineer", "department": str(world.eng.id)})
    assert response.status_code == 302
    opening = m.Opening.get(m.Opening.title == "Data engineer")
    assert (opening.department_id, opening.status) == (world.eng.id, "open")
    assert "Data engineer" in text(client.get("/openings"))


def test_opening_form_problems(client, login, world):
    login(world.hr)
    foreign = m.Department.create(organisation=world.other_org, name="Their department")
    page = text(client.get("/openings/new"))
    assert "Their department" not in page and "Engineering" in page
    response = post_form(client, "/openings/new", {"title": "x" * 201, "department": ""})
    assert response.status_code == 400
    assert "At most 200 characters" in text(response) and "Choose the department that owns the opening." in text(response)
    response = post_form(client, "/openings/new", {"title": "Spy", "department": str(foreign.id)})
    assert response.status_code == 400 and "not available any more" in text(response)
    assert not m.Opening.select().where(m.Opening.title == "Spy").exists()


def test_hr_schedules_an_interview(client, login, world):
    login(world.hr)
    form = text(client.get(f"/interviews/new?candidate={world.carol.id}"))
    assert f'<option value="{world.carol.id}" selected>' in form
    assert "Ivy Interviewer" in form and "Hugo Head" not in form  # only the interviewer role is offered
    response = post_form(client, "/interviews/new", {
        "candidate": str(world.carol.id), "opening": str(world.backend.id), "scheduled_at": "2031-05-01T09:30",
        "interviewers": [str(world.ivy.id)], "questions": "Walk us through a project.\n\n  What went wrong?  \n",
    })
    assert response.status_code == 302
    interview = m.Interview.get(m.Interview.candidate == world.carol)
    assert interview.scheduled_at == dt.datetime(2031, 5, 1, 9, 30)  # the default time zone is UTC
    assert interview.questions == ["Walk us through a project.", "What went wrong?"]
    assert [r.user_id for r in interview.interviewer_rows] == [world.ivy.id]
    # Interviewing for an opening puts the candidate on it.
    assert m.Application.select().where((m.Application.candidate == world.carol) & (m.Application.opening == world.backend)).exists()
    detail = text(client.get(response.headers["Location"]))
    assert "What went wrong?" in detail and "Ivy Interviewer" in detail


def test_interview_form_problems(client, login, world):
    login(world.hr)
    response = post_form(client, "/interviews/new", {
        "candidate": str(world.mallory.id), "scheduled_at": "tomorrow-ish", "interviewers": [str(world.head.id)],
        "questions": "Why us?",
    })
    assert response.status_code == 400
    page = text(response)
    assert "This choice is not available any more" in page  # a foreign candidate is not a choice
    assert "Enter a date and time like 2025-03-14 09:30." in page
    assert "Some of the chosen entries are not available any more" in page
    assert 'value="tomorrow-ish"' in page and "Why us?</textarea>" in page
    response = post_form(client, "/interviews/new", {"candidate": "", "scheduled_at": ""})
    assert "Choose the candidate to interview." in text(response) and "Enter a date and time." in text(response)
    assert m.Interview.select().count() == 2


@pytest.mark.parametrize("path", ["/candidates/new", "/openings/new", "/interviews/new"])
def test_create_without_csrf_token_is_refused(client, login, world, path):
    login(world.hr)
    before = (m.Candidate.select().count(), m.Opening.select().count(), m.Interview.select().count())
    response = client.post(path, data={"name": "Eve", "title": "Eve", "department": str(world.eng.id),
                                       "candidate": str(world.alice.id), "scheduled_at": "2031-01-01T10:00"})
    assert response.status_code == 400
    assert "did not come from this site" in text(response)
    assert (m.Candidate.select().count(), m.Opening.select().count(), m.Interview.select().count()) == before


def test_every_post_form_carries_a_csrf_token(client, login, world):
    login(world.hr)
    paths = ["/", "/candidates", f"/candidates/{world.alice.id}", "/candidates/new", "/openings", f"/openings/{world.backend.id}",
             "/openings/new", "/interviews", f"/interviews/{world.upcoming.id}", "/interviews/new"]
    for path in paths:
        html = text(client.get(path))
        forms = re.findall(r"<form\b[^>]*>.*?</form>", html, re.S)
        post_forms = [f for f in forms if 'method="post"' in f]
        assert post_forms, path
        for form in post_forms:
            assert 'name="csrf_token" value="' in form, (path, form[:200])


def test_pages_use_no_inline_script_or_style(client, login, world):
    login(world.hr)
    for path in ("/", "/candidates", f"/candidates/{world.alice.id}", "/interviews/new"):
        html = text(client.get(path))
        assert "<script" not in html and "style=" not in html and "<style" not in html, path
