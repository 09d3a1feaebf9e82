"""The data model and its migrations, on SQLite and PostgreSQL (CI runs this file on both)."""

from __future__ import annotations

import pytest
import peewee as pw

from talentreel.server import audit, schema, models as m
from talentreel.server.accounts import default_organisation


@pytest.fixture
def org(db):
    return default_organisation()


def test_migrations_are_recorded_and_idempotent(db):
    assert schema.pending(db) == []
    assert schema.migrate(db) == []
    assert 1 in schema.applied_versions(db)
    for model in m.ALL_MODELS:
        assert db.table_exists(model._meta.table_name), model.__name__


def test_recording_state_machine(org):
    candidate = m.Candidate.create(organisation=org, name="张伟")
    rec = m.Recording.create(candidate=candidate)
    assert rec.state == "uploaded"
    rec.transition("processing")
    rec.transition("failed", error="ffmpeg: invalid data found when processing input")
    again = m.Recording.get_by_id(rec.id)
    assert again.state == "failed" and "invalid data" in again.error
    again.transition("processing")
    assert m.Recording.get_by_id(rec.id).error is None
    again.transition("ready")
    with pytest.raises(m.InvalidTransition, match="cannot go from ready to uploaded"):
        again.transition("uploaded")


def test_reports_are_versioned_json(org):
    candidate = m.Candidate.create(organisation=org, name="A")
    rec = m.Recording.create(candidate=candidate)
    m.Report.create(recording=rec, version=1, data={"summary": "沟通清楚", "moments": [{"start": 1.5}]}, analyzers={"stt": "1.0"})
    m.Report.create(recording=rec, version=2, data={"summary": "v2"})
    assert m.Report.get(recording=rec, version=1).data["moments"][0]["start"] == 1.5
    with pytest.raises(pw.IntegrityError):
        m.Report.create(recording=rec, version=2, data={})


def test_tags_keep_evidence_moments(org):
    candidate = m.Candidate.create(organisation=org, name="A")
    rec = m.Recording.create(candidate=candidate)
    tag = m.Tag.create(organisation=org, name="negotiation", label_zh="客户谈判", label_en="Negotiation")
    ct = m.CandidateTag.create(candidate=candidate, tag=tag, score=4.5, source="keyword-tagger")
    m.TagEvidence.create(candidate_tag=ct, recording=rec, start_seconds=12.0, end_seconds=31.5, note="describes a price negotiation")
    (evidence,) = ct.evidence
    assert (evidence.start_seconds, evidence.end_seconds) == (12.0, 31.5)


def test_deleting_a_candidate_removes_what_hangs_off_it(org):
    dept = m.Department.create(organisation=org, name="销售部")
    opening = m.Opening.create(organisation=org, department=dept, title="Sales")
    candidate = m.Candidate.create(organisation=org, name="A")
    interview = m.Interview.create(candidate=candidate, opening=opening, questions=["Q1"])
    m.Application.create(candidate=candidate, opening=opening)
    m.Recording.create(candidate=candidate, interview=interview)
    candidate.delete_instance()
    assert m.Interview.select().count() == 0 and m.Recording.select().count() == 0 and m.Application.select().count() == 0
    assert m.Opening.select().count() == 1


def test_department_with_openings_cannot_be_deleted(org):
    dept = m.Department.create(organisation=org, name="技术部")
    m.Opening.create(organisation=org, department=dept, title="Backend")
    with pytest.raises(pw.IntegrityError):
        dept.delete_instance()


def test_audit_chain_detects_an_edited_and_a_deleted_event(org, app):
    for i in range(5):
        audit.record("candidate.view", object_type="candidate", object_id=i, details={"n": i})
    assert audit.verify() == []
    m.AuditEvent.update(details={"n": 99}).where(m.AuditEvent.id == 3).execute()
    assert any("event 3" in p and "edited" in p for p in audit.verify())
    m.AuditEvent.update(details={"n": 2}).where(m.AuditEvent.id == 3).execute()
    assert audit.verify() == []
    m.AuditEvent.delete().where(m.AuditEvent.id == 2).execute()
    assert any("event 3" in p and "deleted" in p for p in audit.verify())
