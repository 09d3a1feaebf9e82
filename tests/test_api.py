"""The REST API under /api/v1: token auth, CRUD, validation, pagination, visibility and the
OpenAPI document's agreement with the routes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from talentreel.server import audit
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation, set_active
from talentreel.server.api.openapi import document

API = "/api/v1"


def bearer(user) -> dict:
    _row, token = create_api_token(user, "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def org(db):
    return default_organisation()


@pytest.fixture
def dept(org):
    return m.Department.create(organisation=org, name="Engineering", code="ENG")


@pytest.fixture
def other_dept(org):
    return m.Department.create(organisation=org, name="Sales")


@pytest.fixture
def hr(make_user, org):
    return make_user("hr", roles=("hr",))


@pytest.fixture
def hr_headers(hr):
    return bearer(hr)


def make_candidate(org, name="Ada Lovelace", **kwargs):
    return m.Candidate.create(organisation=org, name=name, **kwargs)


def assert_error(response, status, field=None, text=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field
        assert body["error"].startswith(f"{field}: ") or body["error"].startswith(f"{field}[")
    if text is not None:
        assert text in body["error"], body["error"]
    return body


# --- token authentication -------------------------------------------------------------------


def test_missing_token_is_401_with_bearer_challenge(client, hr):
    response = client.get(f"{API}/me")
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [
    "Bearer trk_not-a-real-token",
    "Bearer nottrkprefix",
    "Bearer ",
    "Basic aHI6cGFzc3dvcmQ=",
    "trk_token-without-scheme",
])
def test_bad_token_is_401(client, hr, header):
    response = client.get(f"{API}/me", headers={"Authorization": header})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(client, hr):
    row, token = create_api_token(hr, "ci")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    m.ApiToken.update(revoked_at=m.utcnow()).where(m.ApiToken.id == row.id).execute()
    response = client.get(f"{API}/me", headers=headers)
    assert_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_disabled_user_token_is_401(client, hr, hr_headers):
    assert client.get(f"{API}/me", headers=hr_headers).status_code == 200
    set_active(hr, False)
    assert_error(client.get(f"{API}/me", headers=hr_headers), 401)


def test_session_cookie_is_not_accepted(client, hr, login):
    login(hr)
    assert client.get("/").status_code == 200  # signed in on the web side
    assert_error(client.get(f"{API}/me"), 401)
    assert_error(client.post(f"{API}/candidates", json={"name": "Via cookie"}), 401)
    assert m.Candidate.select().count() == 0


def test_every_route_but_the_spec_needs_a_token(app, client, hr):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi":
            continue
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, json={})
            assert response.status_code == 401, (method, url)


def test_token_records_last_use(client, hr):
    row, token = create_api_token(hr, "ci")
    client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert m.ApiToken.get_by_id(row.id).last_used_at is not None


# --- me and departments ---------------------------------------------------------------------


def test_me(client, make_user, dept):
    user = make_user("dora", roles=("dept_head", "interviewer"), departments=(dept,), display_name="Dora H",
                     email="dora@example.com", locale="zh_CN")
    body = client.get(f"{API}/me", headers=bearer(user)).get_json()
    assert body == {
        "id": user.id, "username": "dora", "display_name": "Dora H", "email": "dora@example.com",
        "roles": ["dept_head", "interviewer"], "department_ids": [dept.id], "locale": "zh_CN",
    }


def test_departments(client, hr_headers, dept, other_dept, make_user):
    other_org = m.Organisation.create(name="Elsewhere")
    m.Department.create(organisation=other_org, name="Hidden")
    body = client.get(f"{API}/departments", headers=hr_headers).get_json()
    assert [d["name"] for d in body["items"]] == ["Engineering", "Sales"]
    assert body["items"][0] == {"id": dept.id, "name": "Engineering", "code": "ENG"}
    assert body["total"] == 2
    interviewer = make_user("ivan", roles=("interviewer",))
    assert_error(client.get(f"{API}/departments", headers=bearer(interviewer)), 403)


# --- candidates -----------------------------------------------------------------------------


def test_candidate_round_trip_and_audit(client, hr, hr_headers):
    created = client.post(f"{API}/candidates", headers=hr_headers,
                          json={"name": "  Grace Hopper ", "email": "grace@example.com", "phone": "+1 (555) 010-2000"})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    cid = body["id"]
    assert created.headers["Location"].endswith(f"{API}/candidates/{cid}")
    assert body["name"] == "Grace Hopper"
    assert body["in_talent_pool"] is False
    assert dt.datetime.fromisoformat(body["created_at"]).tzinfo is not None

    fetched = client.get(f"{API}/candidates/{cid}", headers=hr_headers)
    assert fetched.get_json() == body

    patched = client.patch(f"{API}/candidates/{cid}", headers=hr_headers, json={"in_talent_pool": True, "email": None})
    assert patched.status_code == 200
    assert patched.get_json()["in_talent_pool"] is True
    assert patched.get_json()["email"] is None
    assert m.Candidate.get_by_id(cid).in_talent_pool is True

    assert client.delete(f"{API}/candidates/{cid}", headers=hr_headers).status_code == 204
    assert_error(client.get(f"{API}/candidates/{cid}", headers=hr_headers), 404)

    events = [(e.action, e.object_id, e.actor_id, e.details) for e in m.AuditEvent.select().order_by(m.AuditEvent.id)]
    assert events == [
        ("candidate.create", str(cid), hr.id, {"fields": ["email", "name", "phone"]}),
        ("candidate.view", str(cid), hr.id, {}),
        ("candidate.edit", str(cid), hr.id, {"fields": ["email", "in_talent_pool"]}),
        ("candidate.delete", str(cid), hr.id, {}),
    ]
    assert audit.verify() == []
    # No personal data in the trail, which cannot be redacted later.
    assert "grace" not in str([e.details for e in m.AuditEvent.select()]).lower()


def test_unchanged_patch_is_not_audited(client, hr_headers, org):
    cand = make_candidate(org)
    response = client.patch(f"{API}/candidates/{cand.id}", headers=hr_headers, json={"name": "Ada Lovelace"})
    assert response.status_code == 200
    assert not m.AuditEvent.select().where(m.AuditEvent.action == "candidate.edit").exists()


@pytest.mark.parametrize("body, field, text", [
    ({"email": "x@example.com"}, "name", "required"),
    ({"name": ""}, "name", "must not be empty"),
    ({"name": "   "}, "name", "must not be empty"),
    ({"name": "x" * 201}, "name", "at most 200 characters"),
    ({"name": 42}, "name", "expected a string"),
    ({"name": None}, "name", "must not be null"),
    ({"name": "Bad\x00Name"}, "name", "control characters"),
    ({"name": "Ada", "email": "not-an-address"}, "email", "not an e-mail address"),
    ({"name": "Ada", "email": "a b@example.com"}, "email", "not an e-mail address"),
    ({"name": "Ada", "email": 7}, "email", "expected a string"),
    ({"name": "Ada", "phone": "call me"}, "phone", "digits"),
    ({"name": "Ada", "in_talent_pool": "yes"}, "in_talent_pool", "expected true or false"),
    ({"name": "Ada", "in_talent_pool": 1}, "in_talent_pool", "expected true or false"),
    ({"name": "Ada", "id": 5}, "id", "unknown field"),
    ({"name": "Ada", "created_at": "2024-01-01T00:00:00Z"}, "created_at", "unknown field"),
])
def test_candidate_validation(client, hr_headers, body, field, text):
    assert_error(client.post(f"{API}/candidates", headers=hr_headers, json=body), 400, field, text)
    assert m.Candidate.select().count() == 0


@pytest.mark.parametrize("data", ["[1, 2]", '"Ada"', "null", "{bad json", "", "[" * 100000])
def test_body_must_be_a_json_object(client, hr_headers, data):
    response = client.post(f"{API}/candidates", headers={**hr_headers, "Content-Type": "application/json"}, data=data)
    assert_error(response, 400, "body")


def test_lone_surrogate_is_refused(client, hr_headers):
    response = client.post(f"{API}/candidates", headers={**hr_headers, "Content-Type": "application/json"},
                           data='{"name": "\\ud800"}')
    assert_error(response, 400, "name", "Unicode")


def test_oversized_body_is_refused(client, hr_headers):
    response = client.post(f"{API}/candidates", headers=hr_headers, json={"name": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


def test_patch_validation(client, hr_headers, org):
    cand = make_candidate(org)
    url = f"{API}/candidates/{cand.id}"
    assert_error(client.patch(url, headers=hr_headers, json={"name": " "}), 400, "name", "must not be empty")
    assert_error(client.patch(url, headers=hr_headers, json={"nickname": "A"}), 400, "nickname", "unknown field")
    assert m.Candidate.get_by_id(cand.id).name == "Ada Lovelace"


# --- openings -------------------------------------------------------------------------------


def test_opening_round_trip(client, hr_headers, dept, other_dept):
    created = client.post(f"{API}/openings", headers=hr_headers, json={"title": "Backend engineer", "department_id": dept.id})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["status"] == "open" and body["closed_at"] is None and body["department_id"] == dept.id
    url = f"{API}/openings/{body['id']}"
    assert client.get(url, headers=hr_headers).get_json() == body

    closed = client.patch(url, headers=hr_headers, json={"status": "closed", "department_id": other_dept.id}).get_json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["department_id"] == other_dept.id
    reopened = client.patch(url, headers=hr_headers, json={"status": "open"}).get_json()
    assert reopened["closed_at"] is None

    listed = client.get(f"{API}/openings", headers=hr_headers).get_json()
    assert [o["id"] for o in listed["items"]] == [body["id"]]


@pytest.mark.parametrize("body, field, text", [
    ({"department_id": 1}, "title", "required"),
    ({"title": "Dev"}, "department_id", "required"),
    ({"title": "Dev", "department_id": 999}, "department_id", "no department with id 999"),
    ({"title": "Dev", "department_id": 2**31}, "department_id", "no department"),
    ({"title": "Dev", "department_id": -2**63}, "department_id", "no department"),
    ({"title": "Dev", "department_id": "1"}, "department_id", "expected an integer id"),
    ({"title": "Dev", "department_id": True}, "department_id", "expected an integer id"),
    ({"title": "Dev", "department_id": 1.0}, "department_id", "expected an integer id"),
    ({"title": "Dev", "department_id": 1, "status": "paused"}, "status", "expected one of open, closed"),
    ({"title": "x" * 201, "department_id": 1}, "title", "at most 200"),
])
def test_opening_validation(client, hr_headers, dept, body, field, text):
    assert dept.id == 1
    assert_error(client.post(f"{API}/openings", headers=hr_headers, json=body), 400, field, text)


def test_opening_in_another_organisations_department_is_refused(client, hr_headers, dept):
    foreign = m.Department.create(organisation=m.Organisation.create(name="Elsewhere"), name="Theirs")
    response = client.post(f"{API}/openings", headers=hr_headers, json={"title": "Dev", "department_id": foreign.id})
    assert_error(response, 400, "department_id", f"no department with id {foreign.id}")


# --- interviews -----------------------------------------------------------------------------


def test_interview_round_trip(client, hr_headers, org, dept, make_user):
    cand = make_candidate(org)
    opening = m.Opening.create(organisation=org, department=dept, title="Dev")
    ian = make_user("ian", roles=("interviewer",))
    ines = make_user("ines", roles=("interviewer",))
    created = client.post(f"{API}/interviews", headers=hr_headers, json={
        "candidate_id": cand.id, "opening_id": opening.id, "scheduled_at": "2025-03-01T14:00:00+01:00",
        "questions": ["Tell us about yourself.", "Why\nhere?"], "interviewer_ids": [ian.id],
    })
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["scheduled_at"] == "2025-03-01T13:00:00Z"
    assert body["questions"] == ["Tell us about yourself.", "Why\nhere?"]
    assert body["interviewer_ids"] == [ian.id]
    assert body["status"] == "scheduled"
    url = f"{API}/interviews/{body['id']}"
    assert client.get(url, headers=hr_headers).get_json() == body

    patched = client.patch(url, headers=hr_headers, json={
        "interviewer_ids": [ines.id, ian.id], "status": "completed", "opening_id": None, "scheduled_at": None})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    patched = patched.get_json()
    assert sorted(patched["interviewer_ids"]) == sorted([ian.id, ines.id])
    assert patched["status"] == "completed" and patched["opening_id"] is None and patched["scheduled_at"] is None
    cleared = client.patch(url, headers=hr_headers, json={"interviewer_ids": []}).get_json()
    assert cleared["interviewer_ids"] == []
    assert client.get(f"{API}/interviews", headers=hr_headers).get_json()["total"] == 1


@pytest.mark.parametrize("extra, field, text", [
    ({"scheduled_at": "tomorrow"}, "scheduled_at", "UTC offset"),
    ({"scheduled_at": "2025-03-01T14:00:00"}, "scheduled_at", "UTC offset"),
    ({"scheduled_at": "2025-02-30T14:00:00Z"}, "scheduled_at", "not a valid date"),
    ({"scheduled_at": "0001-01-01T00:00:00+01:00"}, "scheduled_at", "not a valid date"),
    ({"scheduled_at": 1700000000}, "scheduled_at", "UTC offset"),
    ({"questions": "Why?"}, "questions", "expected a list of strings"),
    ({"questions": ["Why?", "q" * 2001]}, "questions", "at most 2000 characters"),
    ({"questions": ["Why?", ""]}, "questions", "must not be empty"),
    ({"questions": [3]}, "questions", "expected a string"),
    ({"questions": ["q"] * 101}, "questions", "at most 100 items"),
    ({"status": "done"}, "status", "expected one of scheduled, completed, cancelled"),
    ({"interviewer_ids": [424242]}, "interviewer_ids", "no interviewer with id 424242"),
    ({"interviewer_ids": [2**40]}, "interviewer_ids", "no interviewer"),
    ({"interviewer_ids": ["1"]}, "interviewer_ids", "expected an integer id"),
    ({"interviewer_ids": 1}, "interviewer_ids", "expected a list of ids"),
    ({"opening_id": 777}, "opening_id", "no opening with id 777"),
])
def test_interview_validation(client, hr_headers, org, extra, field, text):
    cand = make_candidate(org)
    response = client.post(f"{API}/interviews", headers=hr_headers, json={"candidate_id": cand.id, **extra})
    assert_error(response, 400, field, text)
    assert m.Interview.select().count() == 0


def test_interviewers_must_hold_the_role_and_belong_here(client, hr, hr_headers, org, make_user):
    cand = make_candidate(org)
    dup = make_user("dup", roles=("interviewer",))
    for ids in ([hr.id], [dup.id, dup.id]):
        response = client.post(f"{API}/interviews", headers=hr_headers, json={"candidate_id": cand.id, "interviewer_ids": ids})
        assert_error(response, 400, "interviewer_ids")
    foreign = make_user("far", roles=("interviewer",), organisation=m.Organisation.create(name="Elsewhere"))
    response = client.post(f"{API}/interviews", headers=hr_headers, json={"candidate_id": cand.id, "interviewer_ids": [foreign.id]})
    assert_error(response, 400, "interviewer_ids", f"no interviewer with id {foreign.id}")


def test_interview_candidate_is_fixed(client, hr_headers, org):
    first, second = make_candidate(org), make_candidate(org, "Bob")
    interview = m.Interview.create(candidate=first)
    response = client.patch(f"{API}/interviews/{interview.id}", headers=hr_headers, json={"candidate_id": second.id})
    assert_error(response, 400, "candidate_id", "cannot be changed")


def test_references_the_caller_cannot_see_read_as_missing(client, hr_headers, make_user):
    elsewhere = m.Organisation.create(name="Elsewhere")
    their_candidate = make_candidate(elsewhere, "Hidden")
    their_dept = m.Department.create(organisation=elsewhere, name="Theirs")
    their_opening = m.Opening.create(organisation=elsewhere, department=their_dept, title="Secret")
    response = client.post(f"{API}/interviews", headers=hr_headers, json={"candidate_id": their_candidate.id})
    assert_error(response, 400, "candidate_id", f"no candidate with id {their_candidate.id}")
    mine = make_candidate(default_organisation())
    response = client.post(f"{API}/interviews", headers=hr_headers, json={"candidate_id": mine.id, "opening_id": their_opening.id})
    assert_error(response, 400, "opening_id", f"no opening with id {their_opening.id}")


# --- pagination -----------------------------------------------------------------------------


def test_pagination(client, hr_headers, org):
    ids = [make_candidate(org, f"Candidate {i}").id for i in range(7)]
    first = client.get(f"{API}/candidates?per_page=3", headers=hr_headers).get_json()
    assert [c["id"] for c in first["items"]] == ids[:3]
    assert (first["page"], first["per_page"], first["total"]) == (1, 3, 7)
    last = client.get(f"{API}/candidates?per_page=3&page=3", headers=hr_headers).get_json()
    assert [c["id"] for c in last["items"]] == ids[6:]
    beyond = client.get(f"{API}/candidates?per_page=3&page=99", headers=hr_headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 7
    default = client.get(f"{API}/candidates", headers=hr_headers).get_json()
    assert default["per_page"] == 50 and len(default["items"]) == 7


@pytest.mark.parametrize("query, field", [
    ("per_page=501", "per_page"),
    ("per_page=0", "per_page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=%2B2", "page"),
    ("page=1.5", "page"),
    ("page=" + "9" * 5000, "page"),
    ("page=2147483648", "page"),
])
def test_bad_pagination(client, hr_headers, query, field):
    assert_error(client.get(f"{API}/candidates?{query}", headers=hr_headers), 400, field)


def test_largest_page_does_not_overflow(client, hr_headers, org):
    make_candidate(org)
    body = client.get(f"{API}/candidates?page=2147483647&per_page=500", headers=hr_headers).get_json()
    assert body["items"] == [] and body["total"] == 1


# --- visibility: 404 for what one may not see, 403 for what one may not do -----------------------


@pytest.fixture
def world(org, dept, other_dept, make_user):
    """Two candidates, each interviewed for an opening of a different department."""
    eng_opening = m.Opening.create(organisation=org, department=dept, title="Engineer")
    sales_opening = m.Opening.create(organisation=org, department=other_dept, title="Seller")
    ada, bob = make_candidate(org, "Ada"), make_candidate(org, "Bob")
    m.Application.create(candidate=ada, opening=eng_opening)
    m.Application.create(candidate=bob, opening=sales_opening)
    ada_interview = m.Interview.create(candidate=ada, opening=eng_opening)
    bob_interview = m.Interview.create(candidate=bob, opening=sales_opening)
    interviewer = make_user("ivy", roles=("interviewer",))
    m.InterviewInterviewer.create(interview=ada_interview, user=interviewer)
    head = make_user("dan", roles=("dept_head",), departments=(dept,))
    return {
        "ada": ada, "bob": bob, "eng_opening": eng_opening, "sales_opening": sales_opening,
        "ada_interview": ada_interview, "bob_interview": bob_interview,
        "interviewer": interviewer, "head": head,
    }


def test_interviewer_sees_only_assigned_candidates(client, world):
    headers = bearer(world["interviewer"])
    ada, bob = world["ada"], world["bob"]
    listed = client.get(f"{API}/candidates", headers=headers).get_json()
    assert [c["id"] for c in listed["items"]] == [ada.id] and listed["total"] == 1
    assert client.get(f"{API}/candidates/{ada.id}", headers=headers).status_code == 200
    assert_error(client.get(f"{API}/candidates/{bob.id}", headers=headers), 404)
    # Visible but not theirs to change: 403. Invisible: 404, whatever the method.
    assert_error(client.patch(f"{API}/candidates/{ada.id}", headers=headers, json={"name": "X"}), 403)
    assert_error(client.delete(f"{API}/candidates/{ada.id}", headers=headers), 403)
    assert_error(client.patch(f"{API}/candidates/{bob.id}", headers=headers, json={"name": "X"}), 404)
    assert_error(client.delete(f"{API}/candidates/{bob.id}", headers=headers), 404)
    assert_error(client.get(f"{API}/candidates/{bob.id}/recordings", headers=headers), 404)
    # Interviews: only the assigned one.
    listed = client.get(f"{API}/interviews", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]] == [world["ada_interview"].id]
    assert_error(client.get(f"{API}/interviews/{world['bob_interview'].id}", headers=headers), 404)
    assert_error(client.patch(f"{API}/interviews/{world['ada_interview'].id}", headers=headers, json={"status": "completed"}), 403)
    # Openings are not the interviewer's business at all.
    assert_error(client.get(f"{API}/openings", headers=headers), 403)
    assert_error(client.get(f"{API}/openings/{world['eng_opening'].id}", headers=headers), 404)
    # Nor is creating candidates.
    assert_error(client.post(f"{API}/candidates", headers=headers, json={"name": "New"}), 403)
    assert m.Candidate.select().count() == 2


def test_dept_head_sees_applicants_of_their_departments(client, world):
    headers = bearer(world["head"])
    ada, bob = world["ada"], world["bob"]
    listed = client.get(f"{API}/candidates", headers=headers).get_json()
    assert [c["id"] for c in listed["items"]] == [ada.id]
    assert client.get(f"{API}/candidates/{ada.id}", headers=headers).status_code == 200
    assert_error(client.get(f"{API}/candidates/{bob.id}", headers=headers), 404)
    openings = client.get(f"{API}/openings", headers=headers).get_json()
    assert [o["id"] for o in openings["items"]] == [world["eng_opening"].id]
    assert_error(client.get(f"{API}/openings/{world['sales_opening'].id}", headers=headers), 404)
    assert_error(client.patch(f"{API}/openings/{world['eng_opening'].id}", headers=headers, json={"status": "closed"}), 403)
    interviews = client.get(f"{API}/interviews", headers=headers).get_json()
    assert [i["id"] for i in interviews["items"]] == [world["ada_interview"].id]
    # A reference to an invisible candidate reads as missing, not as forbidden.
    response = client.post(f"{API}/interviews", headers=headers, json={"candidate_id": bob.id})
    assert_error(response, 400, "candidate_id", f"no candidate with id {bob.id}")
    response = client.post(f"{API}/interviews", headers=headers, json={"candidate_id": ada.id})
    assert_error(response, 403)


def test_hr_of_another_organisation_sees_nothing(client, world, make_user):
    elsewhere = m.Organisation.create(name="Elsewhere")
    outsider = make_user("olga", roles=("hr",), organisation=elsewhere)
    headers = bearer(outsider)
    assert client.get(f"{API}/candidates", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}/interviews", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}/openings", headers=headers).get_json()["total"] == 0
    assert_error(client.get(f"{API}/candidates/{world['ada'].id}", headers=headers), 404)
    assert_error(client.delete(f"{API}/candidates/{world['ada'].id}", headers=headers), 404)
    assert_error(client.get(f"{API}/interviews/{world['ada_interview'].id}", headers=headers), 404)
    assert m.Candidate.select().count() == 2


# --- recordings -----------------------------------------------------------------------------


def test_recordings_follow_their_interview(client, world, hr_headers):
    ada = world["ada"]
    other_interview = m.Interview.create(candidate=ada)  # not assigned to the interviewer
    seen = m.Recording.create(candidate=ada, interview=world["ada_interview"], original_name="a.webm", size_bytes=10,
                              duration_seconds=70.5, state="ready")
    hidden = m.Recording.create(candidate=ada, interview=other_interview, original_name="b.webm", size_bytes=20)
    body = client.get(f"{API}/recordings/{seen.id}", headers=hr_headers).get_json()
    assert body == {
        "id": seen.id, "candidate_id": ada.id, "interview_id": world["ada_interview"].id, "state": "ready",
        "error": None, "original_name": "a.webm", "size_bytes": 10, "duration_seconds": 70.5,
        "created_at": body["created_at"],
    }
    assert client.get(f"{API}/candidates/{ada.id}/recordings", headers=hr_headers).get_json()["total"] == 2

    headers = bearer(world["interviewer"])
    assert client.get(f"{API}/recordings/{seen.id}", headers=headers).status_code == 200
    assert_error(client.get(f"{API}/recordings/{hidden.id}", headers=headers), 404)
    listed = client.get(f"{API}/candidates/{ada.id}/recordings", headers=headers).get_json()
    assert [r["id"] for r in listed["items"]] == [seen.id] and listed["total"] == 1
    paged = client.get(f"{API}/candidates/{ada.id}/recordings?per_page=1&page=2", headers=hr_headers).get_json()
    assert [r["id"] for r in paged["items"]] == [hidden.id]


# --- ids that are not ids -------------------------------------------------------------------


BAD_IDS = ("0", "-1", "2147483648", "9223372036854775808", "1" + "0" * 40, "9" * 5000, "abc", "1.5")


@pytest.mark.parametrize("method, template", [
    ("GET", "/candidates/{}"), ("PATCH", "/candidates/{}"), ("DELETE", "/candidates/{}"), ("GET", "/candidates/{}/recordings"),
    ("GET", "/openings/{}"), ("PATCH", "/openings/{}"), ("GET", "/interviews/{}"), ("PATCH", "/interviews/{}"),
    ("GET", "/recordings/{}"),
])
def test_out_of_range_ids_are_404(client, hr_headers, method, template):
    # 404 rather than 500 (PostgreSQL integer overflow) or 405 (another method's rule on the path).
    for bad_id in BAD_IDS:
        response = client.open(API + template.format(bad_id), method=method, headers=hr_headers, json={})
        assert response.status_code == 404, (bad_id, response.get_data(as_text=True))
        assert response.get_json()["status"] == 404


def test_largest_id_is_just_missing(client, hr_headers):
    assert_error(client.get(f"{API}/candidates/2147483647", headers=hr_headers), 404)


# --- the OpenAPI document -------------------------------------------------------------------


def test_openapi_needs_no_token(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]


def _rule_operations(app) -> set[tuple[str, str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)[len(API):]
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found.add((method.lower(), path, rule.endpoint[len("api."):]))
    return found


def _document_operations(spec) -> set[tuple[str, str, str]]:
    return {(method, path, op["operationId"]) for path, ops in spec["paths"].items() for method, op in ops.items()}


def test_openapi_describes_exactly_the_routes(app, client):
    spec = client.get(f"{API}/openapi.json").get_json()
    assert spec == json.loads(json.dumps(document()))  # what test_api_schemathesis.py loads
    assert spec["servers"] == [{"url": API}]
    assert _rule_operations(app) == _document_operations(spec)


def test_openapi_operations_are_complete(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == names, where
            if op.get("security") != []:
                assert "401" in op["responses"], where
            if names:
                assert "404" in op["responses"], where
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                assert schema["additionalProperties"] is False, where
                assert "400" in op["responses"], where
                for name, prop in schema["properties"].items():
                    if "string" in prop.get("type", ()):
                        assert "maxLength" in prop or "enum" in prop or "format" in prop, (where, name)
    for name, schema in spec["components"]["schemas"].items():
        assert schema["additionalProperties"] is False, name


def test_openapi_documents_a_string_limit_per_field(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    candidate = spec["paths"]["/candidates"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert candidate["properties"]["name"]["maxLength"] == 200
    assert candidate["properties"]["email"]["format"] == "email"
    assert candidate["required"] == ["name"]
    interview = spec["paths"]["/interviews"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert interview["properties"]["questions"]["items"]["maxLength"] == 2000
    assert interview["properties"]["scheduled_at"]["format"] == "date-time"
    patch = spec["paths"]["/interviews/{interview_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "candidate_id" not in patch["properties"] and "required" not in patch



def test_unknown_query_parameter_is_refused(client, hr_headers):
    assert_error(client.get(f"{API}/candidates?per-page=5", headers=hr_headers), 400, "per-page", "unknown query parameter")


def test_messages_follow_the_token_users_language(client, make_user, org):
    zhou = make_user("zhou", roles=("hr",), locale="zh_CN")
    body = assert_error(client.get(f"{API}/candidates/999", headers={**bearer(zhou), "Accept-Language": "en"}), 404)
    assert body["error"] == "未找到。"
    # The reason is translated; the field name in front of it stays as the client wrote it.
    body = assert_error(client.post(f"{API}/candidates", headers=bearer(zhou), json={"name": " "}), 400, "name")
    assert body["error"] != "name: must not be empty"
    assert not re.search(r"[a-z]", body["error"][len("name: "):])
    english = make_user("emma", roles=("hr",))
    assert client.get(f"{API}/candidates/999", headers=bearer(english)).get_json()["error"] == "Not found."
    chinese_browser = client.get(f"{API}/candidates/999", headers={**bearer(english), "Accept-Language": "zh-CN"})
    assert chinese_browser.get_json()["error"] == "未找到。"


def test_wrong_method_lists_the_allowed_ones(client, hr_headers):
    response = client.put(f"{API}/candidates/1", headers=hr_headers, json={})
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
