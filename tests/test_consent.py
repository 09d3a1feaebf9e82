"""Per-interview consent (notice version, AI analysis, vision/voice analysis as separate choices):
recorded through the UI and the API, obeyed by the analysis, and stated in the report."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from conftest import FIXTURES, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.analysis import consent
from talentreel.server.analysis import report as report_mod
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.analysis import analyze_recording, analyzers
from talentreel.workers.media import process_recording

from test_analysis_job import assert_valid_report

API = "/api/v1"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def interview(db):
    candidate = m.Candidate.create(organisation=default_organisation(), name="Ada Lovelace")
    return m.Interview.create(candidate=candidate, questions=["Why us?"])


def reasons(app, recording) -> dict[str, str | None]:
    allowed = consent.allowed_for(recording)
    return {d["name"]: allowed(d) for d in analyzers(app)}


def test_analyzers_need_the_consent_of_their_kind(app, interview):
    recording = m.Recording.create(candidate=interview.candidate, interview=interview, state="ready", duration_seconds=10)
    assert set(reasons(app, recording).values()) == {"no consent recorded for this interview"}

    consent.record(interview, None, "v3", ai=True, vision_voice=False)
    found = reasons(app, recording)
    assert found["language"] is None and found["questions"] is None
    assert found["vision"] == found["voice"] == "the candidate did not consent to vision and voice analysis (notice version v3)"

    consent.record(interview, None, "v4", ai=False, vision_voice=True)  # vision/voice without AI is no consent at all
    assert m.InterviewConsent.select().order_by(m.InterviewConsent.id.desc()).first().vision_voice is False
    assert set(reasons(app, recording).values()) == {"the candidate did not consent to AI analysis (notice version v4)"}
    assert m.InterviewConsent.select().count() == 2  # the earlier record stays

    orphan = m.Recording.create(candidate=interview.candidate, state="ready", duration_seconds=10)
    assert set(reasons(app, orphan).values()) == {"no consent recorded: the recording belongs to no interview"}
    org = interview.candidate.organisation
    org.settings = {"analysis": {"consent_required": False}}  # consent is recorded outside TalentReel
    org.save()
    assert set(reasons(app, m.Recording.get_by_id(orphan.id)).values()) == {None}


def test_report_says_which_analyzers_did_not_run_and_why(app, interview):
    worker_base.set_app(app)
    consent.record(interview, None, "2025-02", ai=False, vision_voice=False)
    recording = ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "interview.mp4",
                            candidate=interview.candidate, interview=interview, original_name="i.mp4")
    process_recording(recording.id)
    analyze_recording(recording.id)
    data = report_mod.latest(recording).data
    assert data["consent"]["notice_version"] == "2025-02" and data["consent"]["ai"] is False
    assert data["analyzers"] == {} and data["parts"] == {}
    statuses = {s["name"]: s for s in data["analysis"]}
    assert statuses["vision"]["state"] == "skipped"
    assert statuses["vision"]["reason"] == "the candidate did not consent to AI analysis (notice version 2025-02)"
    assert_valid_report(data)


def test_consent_through_the_api(client, interview, make_user):
    headers = {"Authorization": f"Bearer {create_api_token(make_user('hr', roles=('hr',)), 't')[1]}"}
    created = client.post(f"{API}/interviews", headers=headers, json={
        "candidate_id": interview.candidate_id, "consent_notice_version": "v1", "consent_ai": True})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {k: body["consent"][k] for k in ("notice_version", "ai", "vision_voice")} == {"notice_version": "v1", "ai": True,
                                                                                         "vision_voice": False}
    url = f"{API}/interviews/{body['id']}"
    patched = client.patch(url, headers=headers, json={"consent_vision_voice": True}).get_json()
    assert patched["consent"]["notice_version"] == "v1" and patched["consent"]["vision_voice"] is True

    for body_, field, text in (({"consent_vision_voice": True, "consent_ai": False}, "consent_vision_voice", "needs consent to AI"),
                               ({"consent_notice_version": " "}, "consent_notice_version", "must not be empty")):
        refused = client.patch(url, headers=headers, json=body_)
        assert refused.status_code == 400 and refused.get_json()["field"] == field and text in refused.get_json()["error"]
    first = client.patch(f"{API}/interviews/{interview.id}", headers=headers, json={"consent_ai": True})
    assert first.status_code == 400 and first.get_json()["field"] == "consent_notice_version"
    assert client.get(url, headers=headers).get_json()["consent"]["vision_voice"] is True  # refused edits changed nothing
    assert m.AuditEvent.select().where(m.AuditEvent.action == "interview.consent").count() == 2


def _sign_in(client, user):
    page = client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": "correct horse battery",
                                           "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 302


def test_consent_on_the_interview_pages(client, interview, make_user):
    _sign_in(client, make_user("hr", roles=("hr",)))
    page = client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "No consent recorded" in page
    token = csrf_token_from(page)
    refused = client.post(f"/interviews/{interview.id}/consent", data={"consent": ["ai"], "csrf_token": token})
    assert refused.status_code == 400 and "privacy notice" in refused.get_data(as_text=True)
    assert m.InterviewConsent.select().count() == 0
    done = client.post(f"/interviews/{interview.id}/consent",
                       data={"consent_notice_version": "2025-03", "consent": ["ai", "vision_voice"], "csrf_token": token})
    assert done.status_code == 302
    row = consent.latest_consent(interview)
    assert (row.notice_version, row.ai, row.vision_voice) == ("2025-03", True, True)
    assert "Notice version 2025-03" in client.get(f"/interviews/{interview.id}").get_data(as_text=True)

    scheduled = client.post("/interviews/new", data={
        "candidate": str(interview.candidate_id), "scheduled_at": "2031-05-01T09:30", "questions": "Why?",
        "consent_notice_version": "2025-03", "consent": ["ai"], "csrf_token": token})
    assert scheduled.status_code == 302, scheduled.get_data(as_text=True)[:2000]
    new = m.Interview.select().order_by(m.Interview.id.desc()).first()
    assert (consent.latest_consent(new).ai, consent.latest_consent(new).vision_voice) == (True, False)
