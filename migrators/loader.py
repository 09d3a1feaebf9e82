"""Carrying out a plan: rows and journal items, one record per transaction.

Each record's rows and its journal item commit together, so a kill leaves every record either
done or untouched. Recordings are the exception the design allows for: `ingest_file` stores the
encrypted original and commits its row on its own (it must: the object store's keys are committed
before the bytes), so a kill can leave a recording with no journal item. The next run finds it by
its `source_ref` and adopts it if its original was stored whole, or removes it and ingests again
if the kill came mid-store. Media jobs are queued only after the journal commit; the sweep at the
end queues any a kill left out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Callable

import peewee as pw

from talentreel.server import accounts, audit, jobs
from talentreel.server import models as m
from talentreel.server.errors import InstanceNotRunning, QueueUnavailable, ValidationError
from talentreel.server.recordings import MEDIA_JOB, ORIGINAL, ingest_file, object_key

from . import dedup, inputs, journal
from . import records as r
from .plan import Item, Plan, email_ok, sha256_of
from .reasons import Reason, for_media_rejection, media_detail

log = logging.getLogger("talentreel.migrators")

LEGACY_TAG_PREFIX = "legacy:"
"""Name prefix of the tags kept for unmapped legacy labels (kind "legacy")."""

TAG_SOURCE = "migration"
"""CandidateTag.source of tags carried over from legacy reports."""


class Loader:
    def __init__(self, state, run: m.MigrationRun, plan: Plan, *, actor: m.User | None = None,
                 on_item: Callable[[str, str, int], None] | None = None, heartbeat=None):
        self.state = state
        self.run = run
        self.plan = plan
        self.source = plan.source
        self.actor = actor
        self.on_item = on_item
        self.heartbeat = heartbeat
        self.db = m.MigrationItem._meta.database
        self.org = accounts.default_organisation()
        self.count = 0
        self.total = sum(1 for _ in plan.all_items())
        self.queue_conn = None
        self.queue_checked = False

    # --- driving --------------------------------------------------------------------------

    def load(self) -> None:
        for kind in r.RECORD_TYPES:
            # Survivors first: the earliest-created candidate of a group survives, and the source
            # may list it after its duplicates (a stable sort keeps the source order otherwise).
            items = sorted(self.plan.items[kind], key=lambda i: i.action == "merge") if kind == "candidate" else self.plan.items[kind]
            for item in items:
                if item.outcome is not None:  # loaded with its interview
                    continue
                if item.action == "done":
                    item.outcome = item.planned_outcome
                elif item.action == "reject":
                    self.reject(item)
                else:
                    before = (item.journal, item.target)
                    try:
                        getattr(self, f"load_{kind}")(item)
                    except (ValidationError, ValueError, pw.IntegrityError) as exc:
                        # A value the plan let through and the database refused: this record only.
                        # Its transaction rolled back, so what it noted in memory is void too.
                        log.warning("%s %s: %s", kind, item.legacy_id, exc)
                        item.journal, item.target = before
                        item.reject(Reason.LOAD_FAILED, str(exc))
                        self.reject(item)
                self.tick(item)
        self.sweep_media()

    def tick(self, item: Item) -> None:
        self.count += 1
        if self.heartbeat is not None:
            self.heartbeat("load", self.count, self.total)
        if self.on_item is not None:
            self.on_item(item.kind, item.legacy_id, self.count)

    def target(self, item: Item) -> int:
        """The database id of the row a (loaded) record became or was merged into."""
        if item.action == "merge":
            return self.target(item.refs["into"])
        if item.target is None:
            raise RuntimeError(f"{item.kind} {item.legacy_id}: no row yet (loaded out of order)")
        return item.target[1]

    def data(self, item: Item, **more) -> dict:
        refs = {}
        for name, value in item.refs.items():
            if isinstance(value, Item):
                refs[name] = value.legacy_id
            elif isinstance(value, list):
                refs[name] = [v.legacy_id if isinstance(v, Item) else v for v in value]
            elif name != "into":
                refs[name] = value
        return {"record": r.as_dict(item.record), "where": item.where, "refs": refs, **more}

    def done(self, item: Item, state: str, table: str, row_id: int, **data) -> None:
        """Journal a migrated record (inside the caller's transaction)."""
        item.journal = journal.write(self.run, self.source, item.kind, item.legacy_id, state, target=(table, row_id),
                                     data=self.data(item, **data),
                                     existing=item.journal if item.journal is not None else None)
        item.target = (table, row_id)
        item.outcome = {"created": "new", "linked": "linked", "merged": "merged"}[state]

    def reject(self, item: Item) -> None:
        item.outcome = "rejected"
        if not item.journaled:
            return
        old = item.journal
        if old is not None and old.state == "rejected" and old.reason == item.reason and (old.detail or None) == (item.detail or None):
            return  # rejected again for the same reason: nothing changes
        with self.db.atomic():
            item.journal = journal.write(self.run, self.source, item.kind, item.legacy_id, "rejected", reason=item.reason,
                                         detail=item.detail, data=self.data(item), existing=old)

    # --- people and structure -------------------------------------------------------------

    def load_department(self, item: Item) -> None:
        name = item.record.name.strip()
        with self.db.atomic():
            row = m.Department.get_or_none((m.Department.organisation == self.org) & (m.Department.name == name))
            if row is not None:
                self.done(item, "linked", "department", row.id)
            else:
                row = m.Department.create(organisation=self.org, name=name, code=item.record.code)
                self.done(item, "created", "department", row.id)

    def load_user(self, item: Item) -> None:
        user = item.record
        roles = item.refs["roles"]
        departments = [m.Department.get_by_id(self.target(self.plan.get("department", ref))) for ref in item.refs["departments"]]
        email = user.email.strip() if user.email and email_ok(user.email) else None
        with self.db.atomic():
            existing = m.User.get_or_none(m.User.username == user.username)
            if existing is None:
                row = accounts.create_user(user.username, None, roles, display_name=user.display_name or "", email=email,
                                           organisation=self.org, departments=departments)
                self.done(item, "created", "user", row.id, roles=roles)
                return
            rows = []
            have_roles = existing.roles
            for role in roles:
                if role not in have_roles:
                    rows.append(["user_role", m.UserRole.create(user=existing, role=role).id])
            have_depts = existing.department_ids
            for dept in departments:
                if dept.id not in have_depts:
                    rows.append(["user_department", m.UserDepartment.create(user=existing, department=dept).id])
            self.done(item, "linked", "user", existing.id, rows=rows, roles=roles)

    def load_opening(self, item: Item) -> None:
        dept = self.target(item.refs["department"])
        title = item.record.title.strip()
        with self.db.atomic():
            row = m.Opening.get_or_none((m.Opening.organisation == self.org) & (m.Opening.department == dept) & (m.Opening.title == title))
            if row is not None:
                self.done(item, "linked", "opening", row.id)
            else:
                row = m.Opening.create(organisation=self.org, department=dept, title=title,
                                       status=item.record.status if item.record.status in ("open", "closed") else "open")
                self.done(item, "created", "opening", row.id)

    def load_candidate(self, item: Item) -> None:
        rec = item.record
        with self.db.atomic():
            if item.action == "link":
                self.done(item, "linked", "candidate", item.target[1], match=self._merge_entry(item))
                return
            if item.action == "merge":
                survivor = m.Candidate.get_by_id(self.target(item.refs["into"]))
                filled = {}
                for name, value in (("phone", _clean_phone(rec.phone)), ("email", dedup.normal_email(rec.email))):
                    if value and not getattr(survivor, name):
                        filled[name] = getattr(survivor, name)
                        setattr(survivor, name, value)
                if filled:
                    survivor.save()
                created = inputs.to_utc(rec.created_at, self.plan.zone)
                values = {"phone": _clean_phone(rec.phone), "email": dedup.normal_email(rec.email),
                          "created_at": created.isoformat() if created else None}  # what an unmerge recreates
                self.done(item, "merged", "candidate", survivor.id, merge=item.extra["merge"], filled=filled, values=values)
                return
            values = dict(organisation=self.org, name=rec.name.strip(), phone=_clean_phone(rec.phone), email=dedup.normal_email(rec.email))
            created = inputs.to_utc(rec.created_at, self.plan.zone)
            if created is not None:
                values["created_at"] = created
            row = m.Candidate.create(**values)
            self.done(item, "created", "candidate", row.id)

    def _merge_entry(self, item: Item) -> dict | None:
        return next((e for e in self.plan.merges if e["legacy_id"] == item.legacy_id), None)

    def load_application(self, item: Item) -> None:
        candidate, opening = self.target(item.refs["candidate"]), self.target(item.refs["opening"])
        with self.db.atomic():
            row = m.Application.get_or_none((m.Application.candidate == candidate) & (m.Application.opening == opening))
            if row is not None:
                self.done(item, "linked", "application", row.id)
                return
            values = dict(candidate=candidate, opening=opening)
            if item.record.status:
                values["status"] = item.record.status
            created = inputs.to_utc(item.record.created_at, self.plan.zone)
            if created is not None:
                values["created_at"] = created
            self.done(item, "created", "application", m.Application.create(**values).id)

    def load_grant(self, item: Item) -> None:
        user, candidate = self.target(item.refs["user"]), self.target(item.refs["candidate"])
        permission = item.record.permission
        with self.db.atomic():
            row = m.Grant.select().where((m.Grant.user == user) & (m.Grant.candidate == candidate) & (m.Grant.permission == permission)
                                         & m.Grant.revoked_at.is_null()).first()
            if row is not None:
                self.done(item, "linked", "grant", row.id)
                return
            row = m.Grant.create(user=user, candidate=candidate, permission=permission, granted_by=self.actor,
                                 reason=f"migrated from {self.source} ({item.legacy_id})")
            self.done(item, "created", "grant", row.id)

    # --- interviews and their recordings ----------------------------------------------------

    def load_interview(self, item: Item) -> None:
        candidate = self.target(item.refs["candidate"])
        recordings = [rec for rec in item.extra.get("recordings", []) if rec.action != "done"]
        made = []
        for rec in recordings:
            if rec.action == "reject":
                continue
            recording = self.ingest(rec, candidate)
            if recording is not None:
                made.append((rec, recording))
        if recordings and not made and not any(rec.action == "done" for rec in item.extra.get("recordings", [])):
            first = recordings[0]
            item.reject(first.reason, first.detail)
            for rec in recordings:
                self.reject(rec)
                self.tick(rec)
            self.reject(item)
            return
        opening = item.refs.get("opening")
        with self.db.atomic():
            interview = m.Interview.create(candidate=candidate, opening=self.target(opening) if opening is not None else None,
                                           scheduled_at=inputs.to_utc(item.record.scheduled_at, self.plan.zone),
                                           status=item.record.status or "completed")
            rows = []
            for user in dict.fromkeys(self.target(u) for u in item.refs["interviewers"]):
                rows.append(["interview_interviewer", m.InterviewInterviewer.create(interview=interview, user=user).id])
            # The interview is journaled before its recordings, so a rollback (newest item first)
            # removes the recordings before it.
            self.done(item, "created", "interview", interview.id, rows=rows)
            for rec, recording in made:
                self.adopt(rec, recording, interview.id)
            for rec in recordings:
                if rec.action == "reject":
                    self.reject(rec)
        for rec, recording in made:
            self.queue_media(recording.id)
        for rec in recordings:
            self.tick(rec)

    def load_recording(self, item: Item) -> None:
        """A recording with no interview, or one retried for an interview migrated earlier."""
        interview = item.refs.get("interview")
        candidate = self.target(item.refs["candidate"])
        recording = self.ingest(item, candidate)
        if recording is None:
            self.reject(item)
            return
        with self.db.atomic():
            self.adopt(item, recording, self.target(interview) if interview is not None else None)
        self.queue_media(recording.id)

    def ingest(self, item: Item, candidate_id: int) -> m.Recording | None:
        """The recording of a record: adopted from an interrupted run, or ingested now. None (and
        the item rejected) when the file is refused."""
        from talentreel.server.media.probe import MediaRejected

        source_ref = f"{self.source}:{item.legacy_id}"
        existing = m.Recording.get_or_none(m.Recording.source_ref == source_ref)
        if existing is not None and not self.original_stored(existing):
            self.purge(existing)  # killed mid-store: start this one again
            existing = None
        if existing is not None:
            if not m.AuditEvent.select().where((m.AuditEvent.action == "recording.create") & (m.AuditEvent.object_type == "recording")
                                               & (m.AuditEvent.object_id == str(existing.id))).exists():
                audit.record("recording.create", existing, actor=self.actor,
                             details={"size": existing.size_bytes, "name": existing.original_name})
            item.extra.setdefault("sha256", sha256_of(item.extra["path"]))
            return existing
        path = item.extra["path"]
        item.extra["sha256"] = sha256_of(path)
        try:
            return ingest_file(self.state, path, candidate=m.Candidate.get_by_id(candidate_id), original_name=item.record.original_name or path.name,
                               actor=self.actor, source_ref=source_ref, enqueue=False)
        except MediaRejected as exc:
            item.reject(for_media_rejection(exc.reason), media_detail(exc))
            return None

    def adopt(self, item: Item, recording: m.Recording, interview_id: int | None) -> None:
        """Tie an ingested recording to its interview and journal it (inside a transaction)."""
        media = dict(recording.media or {})
        media["migration"] = {"source": self.source, "legacy_id": item.legacy_id, "sha256": item.extra.get("sha256"),
                              "planned": item.extra.get("plan"), "original_name": item.record.original_name}
        m.Recording.update(interview=interview_id, media=media).where(m.Recording.id == recording.id).execute()
        self.done(item, "created", "recording", recording.id, sha256=item.extra.get("sha256"))

    def original_stored(self, recording: m.Recording) -> bool:
        key = object_key(recording.id, ORIGINAL)
        stored = m.DataKey.select().where((m.DataKey.object_key == key) & m.DataKey.stored_at.is_null(False)).exists()
        return stored and self.state.storage.exists(key)

    def purge(self, recording: m.Recording) -> None:
        for key in list(self.state.storage.keys(f"recordings/{recording.id}/")):
            self.state.storage.delete(key)
        m.DataKey.delete().where(m.DataKey.object_key.startswith(f"recordings/{recording.id}/")).execute()
        recording.delete_instance()

    # --- media jobs -----------------------------------------------------------------------

    def _queue(self):
        if not self.queue_checked:
            self.queue_checked = True
            try:
                self.queue_conn = jobs.connect(self.state.settings)
            except (QueueUnavailable, InstanceNotRunning) as exc:
                log.info("media jobs recorded for the reconciler, not queued now: %s", exc)
                self.queue_conn = None
        return self.queue_conn

    def queue_media(self, recording_id: int) -> None:
        if self.has_media_job(recording_id):
            return
        conn = self._queue()
        if conn is None:
            # What jobs.enqueue records before pushing; the worker's reconciler pushes it later.
            m.WorkItem.create(queue="media", func=MEDIA_JOB, args=[recording_id])
        else:
            jobs.enqueue(self.state.settings, "media", MEDIA_JOB, recording_id, conn=conn)

    @staticmethod
    def has_media_job(recording_id: int) -> bool:
        args = pw.Value(json.dumps([recording_id]), converter=False)
        return m.WorkItem.select().where((m.WorkItem.func == MEDIA_JOB) & (m.WorkItem.args == args)).exists()

    def sweep_media(self) -> None:
        """Queue the media job of every recording of this source that has none (a kill between
        the journal commit and the queueing leaves such a recording behind)."""
        recorded = {args[0] for (args,) in m.WorkItem.select(m.WorkItem.args).where(m.WorkItem.func == MEDIA_JOB).tuples() if args}
        pending = (m.Recording.select(m.Recording.id).join(m.MigrationItem, on=(
            (m.MigrationItem.target_id == m.Recording.id) & (m.MigrationItem.kind == "recording")
            & (m.MigrationItem.source == self.source) & (m.MigrationItem.state == "created")))
            .where(m.Recording.state == "uploaded"))
        for row in pending:
            if row.id not in recorded:
                self.queue_media(row.id)

    # --- reports, tags, notes, documents ----------------------------------------------------

    def load_report(self, item: Item) -> None:
        recording_item = item.refs["recording"]
        if recording_item.outcome == "rejected" or recording_item.target is None:
            item.reject(Reason.RECORDING_NOT_MIGRATED, recording_item.legacy_id)
            self.reject(item)
            return
        recording = m.Recording.get_by_id(self.target(recording_item))
        data = item.extra["data"]
        legacy = data["legacy"]
        with self.db.atomic():
            last = m.Report.select(m.Report.version).where(m.Report.recording == recording).order_by(m.Report.version.desc()).first()
            report = m.Report.create(recording=recording, version=(last.version + 1) if last else 1, data=data,
                                     analyzers={f"migration:{self.source}": legacy.get("version") or ""})
            rows = []
            tags: dict[str, m.CandidateTag] = {}

            def candidate_tag(label: str, mapped: bool, score):
                if label not in tags:
                    tag = self.tag(label, mapped)
                    tags[label] = m.CandidateTag.create(candidate=recording.candidate_id, tag=tag, score=score, source=TAG_SOURCE)
                    rows.append(["candidate_tag", tags[label].id])
                return tags[label]

            for entry in legacy["labels"]:
                candidate_tag(entry["label"], entry["mapped"], entry["score"])
            for moment in legacy["moments"]:
                if not moment["label"]:
                    continue
                ct = candidate_tag(moment["label"], moment["mapped"], None)
                evidence = m.TagEvidence.create(candidate_tag=ct, recording=recording, start_seconds=moment["start"],
                                                end_seconds=moment["end"], note=moment.get("note") or f"legacy label {moment['legacy_label']}")
                rows.append(["tag_evidence", evidence.id])
            self.done(item, "created", "report", report.id, rows=rows)

    def tag(self, label: str, mapped: bool, kind: str = "competency") -> m.Tag:
        """The tag of a label: the organisation's tag of that name (or display label) for a mapped
        label; a "legacy" tag for an unmapped one. A tag the run creates is journaled, so a
        rollback removes it."""
        if mapped:
            tag = (m.Tag.select().where((m.Tag.organisation == self.org) & ((m.Tag.name == label) | (m.Tag.label_zh == label) | (m.Tag.label_en == label)))
                   .order_by(m.Tag.name != label, m.Tag.id).first())
            while tag is not None and tag.merged_into_id is not None:
                tag = m.Tag.get_by_id(tag.merged_into_id)
            name = label
        else:
            name, kind = LEGACY_TAG_PREFIX + label, "legacy"
            tag = m.Tag.get_or_none((m.Tag.organisation == self.org) & (m.Tag.name == name))
        if tag is None:
            tag = m.Tag.create(organisation=self.org, name=name, kind=kind)
            existing = m.MigrationItem.get_or_none((m.MigrationItem.source == self.source) & (m.MigrationItem.kind == "tag")
                                                   & (m.MigrationItem.legacy_id == name))
            journal.write(self.run, self.source, "tag", name, "created", target=("tag", tag.id), data={"kind": kind}, existing=existing)
        return tag

    def load_note(self, item: Item) -> None:
        note = item.record
        interview, author = item.refs.get("interview"), item.refs.get("author")
        with self.db.atomic():
            values = dict(candidate=self.target(item.refs["candidate"]), text=note.text.strip(),
                          interview=self.target(interview) if interview is not None and interview.target else None,
                          author=self.target(author) if author is not None else None)
            created = inputs.to_utc(note.created_at, self.plan.zone)
            if created is not None:
                values["created_at"] = created
            self.done(item, "created", "candidate_note", m.CandidateNote.create(**values).id)

    def load_skill(self, item: Item) -> None:
        """A skill tag. The tag is the organisation's tag of that name if there is one (a skill
        already known under that name is the same skill), else a new tag of kind "skill". A
        candidate who has the tag already (a merged duplicate listing the same skill) is linked."""
        candidate = self.target(item.refs["candidate"])
        with self.db.atomic():
            tag = self.tag(item.extra["name"], True, kind="skill")
            row = m.CandidateTag.get_or_none((m.CandidateTag.candidate == candidate) & (m.CandidateTag.tag == tag))
            if row is not None:
                self.done(item, "linked", "candidate_tag", row.id)
                return
            row = m.CandidateTag.create(candidate=candidate, tag=tag, source=TAG_SOURCE)
            self.done(item, "created", "candidate_tag", row.id)

    def load_document(self, item: Item) -> None:
        doc = item.record
        candidate = self.target(item.refs["candidate"])
        path = item.extra["path"]
        # A key fixed by the record, so a rerun after a kill replaces the object instead of leaving a second.
        key = f"documents/{candidate}/{self.source}-{hashlib.sha256(item.legacy_id.encode()).hexdigest()[:24]}"
        with open(path, "rb") as fh:
            stored = self.state.store.put(key, fh, candidate_id=candidate)
        with self.db.atomic():
            row = m.CandidateDocument.create(candidate=candidate, name=_clean_name(doc.name or path.name), content_type=doc.content_type,
                                             object_key=key, size_bytes=stored.plaintext_size, sha256=sha256_of(path))
            self.done(item, "created", "candidate_document", row.id, object_key=key)


def _clean_phone(value: str | None) -> str | None:
    value = inputs.clean(value)
    return " ".join(value.split()) if value else None


def _clean_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable()).strip()[:200] or "document"
