"""Retention sweep, the access review and the audit viewer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def org(db):
    return default_organisation()


@pytest.fixture
def cli_run(settings):
    from talentreel.server.cli import cli

    def run(*args):
        result = CliRunner().invoke(cli, list(args), env={"TALENTREEL_DATA_DIR": settings["data_dir"],
                                                          "TALENTREEL_DATABASE_URL": settings["database_url"]},
                                    catch_exceptions=False)
        return result

    return run


def sign_in(client, user):
    from conftest import PASSWORD, csrf_token_from

    form = client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD,
                                           "csrf_token": csrf_token_from(form.get_data(as_text=True))})
    assert response.status_code == 302
    return client


def _opening(org, title, closed_days_ago=None):
    department = m.Department.get_or_create(organisation=org, name="Sales")[0]
    closed = None if closed_days_ago is None else m.utcnow() - dt.timedelta(days=closed_days_ago)
    return m.Opening.create(organisation=org, department=department, title=title,
                            status="open" if closed is None else "closed", closed_at=closed)


def test_retention_sweep_erases_only_who_the_rule_says(app, org, cli_run):
    old = _opening(org, "Closed long ago", closed_days_ago=200)
    recent = _opening(org, "Closed last week", closed_days_ago=7)
    still_open = _opening(org, "Open")
    made = {}
    for name, openings, extra in (
        ("gone", [old], {}),
        ("pool", [old], {"in_talent_pool": True}),
        ("held", [old], {"legal_hold": True}),
        ("recent", [old, recent], {}),
        ("open", [old, still_open], {}),
        ("never applied", [], {}),
    ):
        candidate = m.Candidate.create(organisation=org, name=name, **extra)
        for opening in openings:
            m.Application.create(candidate=candidate, opening=opening)
        made[name] = candidate.id

    result = json.loads(cli_run("retention", "sweep", "--json").output)
    assert result["organisations"][0]["candidates"] == []  # default rule: keep
    assert cli_run("retention", "set", "--days-after-close", "90").exit_code == 0
    dry = json.loads(cli_run("retention", "sweep", "--dry-run", "--json").output)
    assert dry["organisations"][0]["candidates"] == [made["gone"]]
    assert m.Candidate.select().count() == 6  # a dry run erases nobody
    with app.app_context():
        from talentreel.workers import base as worker_base
        from talentreel.workers.maintenance import retention_sweep

        worker_base.set_app(app)
        done = retention_sweep()
    assert done["organisations"][0]["candidates"] == [made["gone"]]
    assert {c.name for c in m.Candidate.select()} == {"pool", "held", "recent", "open", "never applied"}
    event = m.AuditEvent.get(m.AuditEvent.action == "candidate.erase")
    assert event.actor_id is None and event.object_id == str(made["gone"])  # the sweep, not a person
    refused = cli_run("retention", "set", "--days-after-close", "-1")
    assert refused.exit_code == 2 and "days-after-close" in refused.output


def test_access_review_flags_unused_grants_and_exports(app, org, make_user, login, client, cli_run):
    hr = make_user("hr_reviewer", roles=("hr",))
    head = make_user("head", roles=("dept_head",))
    sales = m.Department.create(organisation=org, name="Sales")
    m.UserDepartment.create(user=head, department=sales)
    opening = m.Opening.create(organisation=org, department=sales, title="Account manager")
    seen = m.Candidate.create(organisation=org, name="Via department")
    m.Application.create(candidate=seen, opening=opening)
    stranger = make_user("stranger", roles=("interviewer",))
    granted = m.Candidate.create(organisation=org, name="Granted one")
    forgotten = m.Candidate.create(organisation=org, name="Forgotten one")
    m.Grant.create(user=stranger, candidate=granted, permission="view", granted_by=hr,
                   created_at=m.utcnow() - dt.timedelta(days=200))
    m.Grant.create(user=stranger, candidate=forgotten, permission="view", granted_by=hr, reason="old project",
                   created_at=m.utcnow() - dt.timedelta(days=200))

    # The stranger uses one grant: it is no longer flagged.
    login(stranger)
    assert client.get(f"/candidates/{granted.id}").status_code == 200
    assert client.get("/access-review").status_code == 403  # interviewers do not review access
    client = app.test_client()  # a new browser for HR

    review = json.loads(cli_run("access-review", "--json").output)
    users = {u["username"]: u for u in review["users"]}
    assert users["head"]["reach"] == [{"why": "role dept_head: Sales", "candidates": 1}]
    assert users["hr_reviewer"]["reach"][0]["candidates"] == 3
    grants = {g["candidate_name"]: g for g in users["stranger"]["grants"]}
    assert grants["Granted one"]["flags"] == [] and grants["Granted one"]["last_used_at"]
    assert grants["Forgotten one"]["flags"] == ["never used in 90 days"]
    assert review["grants_flagged"] == 1

    sign_in(client, hr)
    page = client.get("/access-review").get_data(as_text=True)
    assert "Forgotten one" in page and "never used in 90 days" in page
    exported = client.get("/access-review.csv")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert any(r["username"] == "stranger" and "Forgotten one" in r["candidate"] and r["flags"] for r in rows)
    assert m.AuditEvent.select().where(m.AuditEvent.action == "access_review.export").count() == 1

    from talentreel.workers import base as worker_base
    from talentreel.workers.maintenance import access_review_snapshot

    worker_base.set_app(app)
    with app.app_context():
        ids = access_review_snapshot()["access_reviews"]
    assert m.AccessReview.get_by_id(ids[0]).grants_flagged == 1
    assert "Quarterly reviews kept" in client.get("/access-review").get_data(as_text=True)


def test_audit_viewer_filters_and_verifies(app, org, make_user, login, client):
    hr = make_user("hr_auditor", roles=("hr",))
    candidate = m.Candidate.create(organisation=org, name="Watched")
    login(hr)
    client.get(f"/candidates/{candidate.id}")
    page = client.get("/audit", query_string={"action": "candidate.view"}).get_data(as_text=True)
    assert "candidate.view" in page and f"candidate #{candidate.id}" in page and "user.login" not in page
    assert "intact" in client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    assert client.get("/audit", query_string={"since": "not a date"}).status_code == 400
    m.AuditEvent.update(actor_name="someone else").where(m.AuditEvent.action == "candidate.view").execute()
    assert "was altered" in client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    other = sign_in(app.test_client(), make_user("just_interviewer", roles=("interviewer",)))
    assert other.get("/audit").status_code == 403
