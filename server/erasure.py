"""Erasure: forgetting a candidate for good (the right to erasure).

What goes, in this order, and why the order:
1. the candidate's key is destroyed first: from that moment no copy of any of their objects -
   in storage, in a backup taken last year, on a disk thrown away - can be decrypted again, even
   if a later step fails half-way;
2. every stored object of theirs (originals, replay video, poster, thumbnails, analysis audio,
   documents) is deleted from storage, with its data key rows;
3. their rows: candidate, applications, interviews, recordings, reports, tags and evidence,
   notes, documents, grants, uploads (foreign keys cascade from the candidate row), plus what other
   parts of the system keep about them through the `talentreel_candidate_erased` hook (search
   indexes, caches);
4. their portal account, if they had one.

Refused while the candidate is under legal hold. The audit trail keeps that an erasure happened,
by whom and when, under the candidate's id only: the trail itself holds no personal data of theirs
(its hash chain must not break, so events are never deleted).
"""

from __future__ import annotations

import logging

from flask import current_app

from . import audit
from . import models as m
from .encryption.keys import destroy_candidate_key
from .errors import ValidationError
from .recordings import FORMER_OUTPUT_NAMES, OUTPUT_NAMES, object_key

log = logging.getLogger("talentreel.erasure")


def object_keys_of(candidate: m.Candidate) -> list[str]:
    """Every storage key holding data of the candidate: recordings' outputs and originals,
    documents, and any object whose data key is wrapped by the candidate's key."""
    keys = set()
    for recording in m.Recording.select(m.Recording.id).where(m.Recording.candidate == candidate):
        keys.update(object_key(recording.id, name) for name in (*OUTPUT_NAMES, *FORMER_OUTPUT_NAMES, "original"))
    for document in m.CandidateDocument.select().where(m.CandidateDocument.candidate == candidate):
        if document.object_key:
            keys.add(document.object_key)
    candidate_key = m.CandidateKey.get_or_none(m.CandidateKey.candidate == candidate)
    if candidate_key is not None:
        keys.update(row.object_key for row in m.DataKey.select(m.DataKey.object_key).where(m.DataKey.candidate_key == candidate_key))
    return sorted(keys)


def erase_candidate(candidate: m.Candidate, actor: m.User | None, reason: str = "") -> dict:
    """Erase the candidate (see the module docstring); returns counts for the caller to show."""
    if candidate.legal_hold:
        raise ValidationError(f"candidate {candidate.id} is under legal hold: lift the hold before erasing", field="legal_hold")
    state = current_app.extensions["talentreel"]
    candidate_id, organisation_id, portal_user = candidate.id, candidate.organisation_id, candidate.user
    keys = object_keys_of(candidate)
    destroy_candidate_key(candidate_id)
    removed, missing = 0, 0
    for key in keys:
        try:
            state.store.delete(key)
            removed += 1
        except FileNotFoundError:
            missing += 1
        except Exception as exc:  # the key is gone already: what is left is unreadable ciphertext
            log.error("erasure of candidate %s: could not delete %s from storage: %s", candidate_id, key, exc)
    state.plugins.hook.talentreel_candidate_erased(candidate_id=candidate_id)
    with m.Candidate._meta.database.atomic():
        _scrub_migration_journal(candidate_id)
        recordings = m.Recording.select().where(m.Recording.candidate == candidate_id).count()
        m.ErasureRequest.update(state="erased", decided_by=actor, decided_at=m.utcnow(), candidate=None,
                                reason=reason or None).where(
            (m.ErasureRequest.candidate == candidate_id) & (m.ErasureRequest.state == "requested")).execute()
        m.Candidate.delete().where(m.Candidate.id == candidate_id).execute()
        # The key's tombstone cascades with the candidate row; it only had to outlive the objects.
        if portal_user is not None and set(portal_user.roles) == {"candidate"}:
            m.User.delete().where(m.User.id == portal_user.id).execute()
        audit.record("candidate.erase", None, actor=actor, object_type="candidate", object_id=str(candidate_id),
                     details={"objects_deleted": removed, "objects_missing": missing, "recordings": recordings,
                              "organisation": organisation_id})
    return {"candidate": candidate_id, "objects_deleted": removed, "objects_missing": missing, "recordings": recordings}


def _scrub_migration_journal(candidate_id: int) -> None:
    """Migration journal rows of the candidate and of what hung off them keep their place (a rerun
    of the migration must find the legacy record done, not bring the candidate back) but lose the
    legacy record they carried: names, e-mails, phones, notes."""
    targets = {
        "candidate": [candidate_id],
        "interview": [i.id for i in m.Interview.select(m.Interview.id).where(m.Interview.candidate == candidate_id)],
        "recording": [r.id for r in m.Recording.select(m.Recording.id).where(m.Recording.candidate == candidate_id)],
        "application": [a.id for a in m.Application.select(m.Application.id).where(m.Application.candidate == candidate_id)],
        "candidate_note": [n.id for n in m.CandidateNote.select(m.CandidateNote.id).where(m.CandidateNote.candidate == candidate_id)],
        "candidate_document": [d.id for d in m.CandidateDocument.select(m.CandidateDocument.id).where(m.CandidateDocument.candidate == candidate_id)],
    }
    for table, ids in targets.items():
        if ids:
            (m.MigrationItem.update(data={"erased": True}, detail=None)
             .where((m.MigrationItem.target_table == table) & m.MigrationItem.target_id.in_(ids)).execute())
