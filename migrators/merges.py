"""Undoing one merge decision: a candidate merged as a duplicate becomes a candidate of its own.

The journal knows everything the duplicate brought: its own record, and the interviews,
recordings, reports, grants, applications, notes and documents whose legacy rows named its legacy
id. Unmerging creates the candidate from its record, moves those rows to it, re-wraps the data
keys of their stored objects under the new candidate's key (so erasing one person never leaves
the other's media readable, or the reverse), and restores the fields the duplicate had filled in
on the survivor. The journal item then says "created", so a rollback of its run removes it.
"""

from __future__ import annotations

import datetime as dt

from talentreel.server import audit
from talentreel.server import models as m
from talentreel.server.encryption import keys as keymod
from talentreel.server.encryption.wrapping import seal_key
from talentreel.server.errors import NotFound, ValidationError

from .rollback import _restore_filled


def unmerge(state, source: str, legacy_id: str, *, actor: m.User | None = None) -> dict:
    item = m.MigrationItem.get_or_none((m.MigrationItem.source == source) & (m.MigrationItem.kind == "candidate")
                                       & (m.MigrationItem.legacy_id == legacy_id))
    if item is None:
        raise NotFound(f"{source} migrated no candidate {legacy_id}")
    if item.state != "merged":
        raise ValidationError(f"candidate {legacy_id} of {source} was not merged (it was {item.state})")
    survivor = m.Candidate.get_or_none(m.Candidate.id == item.target_id)
    if survivor is None:
        raise NotFound(f"the candidate {legacy_id} was merged into no longer exists")
    record = item.data.get("record", {})
    database = m.MigrationItem._meta.database
    moved = {"interviews": 0, "recordings": 0, "grants": 0, "applications": 0, "notes": 0, "documents": 0, "candidate_tags": 0}
    object_keys: list[str] = []
    with database.atomic():
        _restore_filled(item)
        values = {"organisation": survivor.organisation_id, "name": record.get("name") or survivor.name,
                  "phone": (item.data.get("values") or {}).get("phone"), "email": (item.data.get("values") or {}).get("email")}
        created = (item.data.get("values") or {}).get("created_at")
        if created:
            values["created_at"] = dt.datetime.fromisoformat(created)
        candidate = m.Candidate.create(**values)
        mine = [i for i in m.MigrationItem.select().where((m.MigrationItem.source == source) & m.MigrationItem.state.in_(("created", "linked")))
                if (i.data or {}).get("record", {}).get("candidate") == legacy_id]
        recording_ids = set()
        for other in mine:
            if other.kind == "interview":
                m.Interview.update(candidate=candidate).where(m.Interview.id == other.target_id).execute()
                moved["interviews"] += 1
                recording_ids |= {r.id for r in m.Recording.select(m.Recording.id).where(m.Recording.interview == other.target_id)}
            elif other.kind == "recording":
                recording_ids.add(other.target_id)
            elif other.kind == "grant" and other.state == "created":
                m.Grant.update(candidate=candidate).where(m.Grant.id == other.target_id).execute()
                moved["grants"] += 1
            elif other.kind == "grant":  # it was the survivor's identical grant: give the duplicate its own
                grant = m.Grant.get_by_id(other.target_id)
                new = m.Grant.create(user=grant.user_id, candidate=candidate, permission=grant.permission, reason=grant.reason)
                m.MigrationItem.update(state="created", target_id=new.id).where(m.MigrationItem.id == other.id).execute()
                moved["grants"] += 1
            elif other.kind == "application" and other.state == "created":
                m.Application.update(candidate=candidate).where(m.Application.id == other.target_id).execute()
                moved["applications"] += 1
            elif other.kind == "application":
                application = m.Application.get_by_id(other.target_id)
                new = m.Application.create(candidate=candidate, opening=application.opening_id)
                m.MigrationItem.update(state="created", target_id=new.id).where(m.MigrationItem.id == other.id).execute()
                moved["applications"] += 1
            elif other.kind == "note":
                m.CandidateNote.update(candidate=candidate).where(m.CandidateNote.id == other.target_id).execute()
                moved["notes"] += 1
            elif other.kind == "skill" and other.state == "created":
                m.CandidateTag.update(candidate=candidate).where(m.CandidateTag.id == other.target_id).execute()
                moved["candidate_tags"] += 1
            elif other.kind == "skill":  # the survivor had the skill already: give the duplicate its own
                tag = m.CandidateTag.get_by_id(other.target_id)
                new = m.CandidateTag.create(candidate=candidate, tag=tag.tag_id, source=tag.source)
                m.MigrationItem.update(state="created", target_id=new.id).where(m.MigrationItem.id == other.id).execute()
                moved["candidate_tags"] += 1
            elif other.kind == "document":
                document = m.CandidateDocument.get_by_id(other.target_id)
                document.candidate = candidate
                document.save()
                object_keys.append(document.object_key)
                moved["documents"] += 1
        for recording_id in recording_ids:
            m.Recording.update(candidate=candidate).where(m.Recording.id == recording_id).execute()
            object_keys += list(state.storage.keys(f"recordings/{recording_id}/"))
            evidence = m.TagEvidence.select(m.TagEvidence.candidate_tag).where(m.TagEvidence.recording == recording_id)
            moved["candidate_tags"] += (m.CandidateTag.update(candidate=candidate)
                                        .where(m.CandidateTag.id.in_(evidence) | m.CandidateTag.id.in_(_report_tags(source, recording_id)))
                                        .execute())
        moved["recordings"] = len(recording_ids)
        _rewrap(state.store.keyring, object_keys, candidate.id)
        data = dict(item.data, unmerged={"from_candidate": survivor.id, "at": m.utcnow().isoformat()})
        m.MigrationItem.update(state="created", target_id=candidate.id, data=data).where(m.MigrationItem.id == item.id).execute()
        audit.record("migration.unmerge", candidate, actor=actor, details={"source": source, "legacy_id": legacy_id, "from": survivor.id, **moved})
    return {"candidate_id": candidate.id, "from_candidate": survivor.id, **moved}


def _report_tags(source: str, recording_id: int) -> list[int]:
    """Candidate tags the migrated reports of a recording made (including those with no moment)."""
    ids = []
    reports = {r.id for r in m.Report.select(m.Report.id).where(m.Report.recording == recording_id)}
    for item in m.MigrationItem.select().where((m.MigrationItem.source == source) & (m.MigrationItem.kind == "report")
                                               & m.MigrationItem.target_id.in_(list(reports) or [0])):
        ids += [row_id for table, row_id in (item.data or {}).get("rows", []) if table == "candidate_tag"]
    return ids


def _rewrap(keyring, object_keys: list[str], candidate_id: int) -> None:
    """Wrap the data keys of the objects under the candidate's key instead of their old owner's."""
    if not object_keys:
        return
    owner, owner_key = keymod.candidate_key(keyring, candidate_id, create=True)
    for row in list(m.DataKey.select().where(m.DataKey.object_key.in_(object_keys))):
        _, data_key = keymod.data_key(keyring, bytes.fromhex(row.object_id), row.object_key)
        wrapped = seal_key(owner_key, data_key, keymod.data_subject(row.object_id), keymod.candidate_wrapper(candidate_id))
        m.DataKey.update(candidate_key=owner.id, kek_version=None, wrapped=wrapped, rewrapped_at=m.utcnow()).where(m.DataKey.id == row.id).execute()
