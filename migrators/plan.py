"""From records to a plan: what will become of every legacy record, decided before anything is
written.

Planning reads the database (the journal, and rows a record may attach to) but never writes, so a
dry run is a plan plus its report. It checks every reference, dedups candidates, maps labels and
roles, and probes every recording not migrated yet, so the rejects a dry run reports are the ones
the run will make. Each record becomes one `Item` with an action:

- ``done``: the journal says an earlier run migrated it; nothing to do;
- ``create``: a new row; ``link``: attach to a row that already exists (a department of the same
  name, an account with the same user name, a candidate already in TalentReel);
- ``merge``: a duplicate candidate, folded into its group's survivor;
- ``reject``: not migrated, with a reason from reasons.Reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from talentreel.server import accounts
from talentreel.server import models as m

from . import dedup, inputs, journal, labels
from . import records as r
from .reasons import Reason, Warn, for_media_rejection, media_detail

HASH_CHUNK = 1024 * 1024


@dataclass
class Item:
    kind: str
    legacy_id: str
    record: Any
    where: str = ""
    action: str = "create"
    reason: str | None = None
    detail: str | None = None
    target: tuple[str, int] | None = None  # link: the existing row; done: the journal's target
    refs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    journal: m.MigrationItem | None = None  # this record's journal item, if any
    journaled: bool = True  # False for report-only rejects (no usable legacy id, or a conflicting duplicate)
    outcome: str | None = None  # after loading: new | already | linked | merged | rejected

    def reject(self, reason: str, detail: str | None = None) -> None:
        self.action, self.reason, self.detail = "reject", str(reason), detail

    def refuse(self, reason: str, detail: str | None = None) -> None:
        """Reject, unless an earlier run migrated the record: what is done stays done."""
        if self.action != "done":
            self.reject(reason, detail)

    @property
    def planned_outcome(self) -> str:
        if self.action == "done":
            return {"merged": "merged"}.get(self.journal.state, "already") if self.journal else "already"
        return {"create": "new", "link": "linked", "merge": "merged", "reject": "rejected"}[self.action]


@dataclass
class Plan:
    source: str
    options: dict
    zone: dt.tzinfo
    items: dict[str, list[Item]] = field(default_factory=lambda: {k: [] for k in r.RECORD_TYPES})
    by_key: dict[tuple[str, str], Item] = field(default_factory=dict)
    loose_rejects: list[Item] = field(default_factory=list)  # reader rejects of no record kind ("file")
    duplicates: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)
    label_map: labels.LabelMap = field(default_factory=labels.LabelMap)
    labels_seen: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    role_map: dict[str, list[str]] = field(default_factory=dict)
    organisation_id: int | None = None

    def get(self, kind: str, legacy_id: str | None) -> Item | None:
        return self.by_key.get((kind, legacy_id)) if legacy_id else None

    def warn(self, code: str, item: Item, detail: str = "", field: str | None = None) -> None:
        """Something kept but not as the source had it, for the report's warnings."""
        self.warnings.append({"warning": str(code), "kind": item.kind, "legacy_id": item.legacy_id, "field": field,
                              "detail": detail, "where": item.where})

    def all_items(self) -> Iterable[Item]:
        for kind in r.RECORD_TYPES:
            yield from self.items[kind]


def collect(reader, plan: Plan) -> None:
    """Read every record; set duplicates aside; keep the reader's rejects and notices."""
    firsts: dict[tuple[str, str], dict] = {}
    for record in reader.read():
        if isinstance(record, r.Notice):
            if record.code == "encoding":
                plan.files.append({"file": record.where, "encoding": record.detail})
            else:
                plan.warnings.append({"warning": str(record.code), "kind": record.kind, "legacy_id": record.legacy_id,
                                      "field": record.field, "detail": record.detail, "where": record.where})
            continue
        if isinstance(record, r.Rejected):
            item = Item(record.kind, record.legacy_id or "", record, record.where, journaled=bool(record.legacy_id))
            item.reject(record.reason, record.detail)
            if record.kind not in r.RECORD_TYPES:
                item.journaled = False
                plan.loose_rejects.append(item)
                continue
            key = (record.kind, record.legacy_id)
            if record.legacy_id and key in plan.by_key:
                item.journaled = False
            elif record.legacy_id:
                plan.by_key[key] = item
            plan.items[record.kind].append(item)
            continue
        kind = r.kind_of(record)
        if kind is None:
            raise TypeError(f"reader yielded {type(record).__name__}, which is not a canonical record (see migrators.records)")
        legacy_id = str(record.legacy_id or "").strip()
        item = Item(kind, legacy_id, record, record.where)
        if not legacy_id:
            item.journaled = False
            item.reject(Reason.MISSING_ID)
            plan.items[kind].append(item)
            continue
        key = (kind, legacy_id)
        content = r.as_dict(record)
        if key in firsts:
            first = plan.by_key[key]
            if firsts[key] == content:
                plan.duplicates.append({"kind": kind, "legacy_id": legacy_id, "where": record.where, "first": first.where,
                                        "reason": str(Warn.DUPLICATE_ROW)})
            else:
                item.journaled = False
                item.reject(Reason.CONFLICTING_DUPLICATE, f"first read at {first.where}")
                plan.items[kind].append(item)
            continue
        if key in plan.by_key:  # a reader reject took the id first
            item.journaled = False
            item.reject(Reason.CONFLICTING_DUPLICATE, f"first read at {plan.by_key[key].where}")
            plan.items[kind].append(item)
            continue
        firsts[key] = content
        plan.by_key[key] = item
        plan.items[kind].append(item)


def build(state, source: str, reader, options: dict) -> Plan:
    zone = inputs.parse_timezone(options.get("timezone") or reader.timezone)
    plan = Plan(source=source, options=options, zone=zone)
    org = m.Organisation.select().order_by(m.Organisation.id).first()
    plan.organisation_id = org.id if org else None
    collect(reader, plan)
    label_path = options.get("label_map") or reader.label_map_path()
    plan.label_map = labels.load(Path(label_path) if label_path else None)
    plan.role_map = {k: list(v) for k, v in (options.get("role_map") or reader.role_map).items()}
    done = journal.items_of(source)
    for item in plan.by_key.values():
        item.journal = done.get((item.kind, item.legacy_id))
    Planner(state, plan).run()
    return plan


class Planner:
    def __init__(self, state, plan: Plan):
        self.state = state
        self.plan = plan
        self.org = plan.organisation_id
        self.identities: dict[tuple, Item] = {}  # get_or_create keys planned so far -> first item (a second one links)

    def run(self) -> None:
        for kind in r.RECORD_TYPES:
            for item in self.plan.items[kind]:
                if item.action == "reject":
                    continue
                if item.journal is not None and item.journal.state in journal.DONE_STATES:
                    item.action = "done"
                    item.target = (item.journal.target_table, item.journal.target_id)
            getattr(self, f"plan_{kind}s")([i for i in self.plan.items[kind] if i.action != "reject"])

    # --- helpers --------------------------------------------------------------------------

    def _ref(self, kind: str, legacy_id: str | None, unknown: Reason, not_migrated: Reason) -> tuple[Item | None, Reason | None]:
        """The item a reference names, or why it cannot be followed."""
        if not legacy_id:
            return None, unknown
        target = self.plan.get(kind, legacy_id)
        if target is None:
            return None, unknown
        if target.action == "reject":
            return None, not_migrated
        return target, None

    def _existing(self, model, **where):
        if self.org is None:
            return None
        query = model.select()
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return query.first()

    def _date(self, item: Item, name: str) -> dt.datetime | None:
        return inputs.to_utc(getattr(item.record, name), self.plan.zone)

    def identity(self, item: Item) -> tuple:
        """What a record will be in TalentReel, comparable before anything exists: ("db", id) for
        an existing or journaled row, ("new", kind, legacy id) for a row this run creates."""
        if item.action == "merge":
            return self.identity(item.refs["into"])
        if "same_as" in item.refs:
            return self.identity(item.refs["same_as"])
        if item.target is not None:
            return ("db", item.target[0], item.target[1])
        return ("new", item.kind, item.legacy_id)

    def _linkable(self, key: tuple, item: Item, existing) -> None:
        """Plan a get-or-create: link to an existing row, or to one planned earlier in this run."""
        if item.action != "done":
            if existing is not None:
                item.action, item.target = "link", (existing._meta.table_name, existing.id)
            elif key in self.identities:
                item.action = "link"
                item.refs["same_as"] = self.identities[key]
        self.identities.setdefault(key, item)

    # --- per kind -------------------------------------------------------------------------

    def plan_departments(self, items: list[Item]) -> None:
        for item in items:
            name = (item.record.name or "").strip()
            if not name:
                item.refuse(Reason.MISSING_NAME)
                continue
            if item.action != "done":
                self._linkable(("department", name), item, self._existing(m.Department, organisation=self.org, name=name))

    def plan_users(self, items: list[Item]) -> None:
        role_map = self.plan.role_map
        for item in items:
            user = item.record
            roles, unknown = set(), []
            for legacy in user.roles:
                mapped = role_map.get(legacy, role_map.get(legacy.strip()))
                if mapped is None:
                    unknown.append(legacy)
                else:
                    roles.update(mapped)
            bad = sorted(role for role in roles if role not in m.ROLES)
            departments = []
            for ref in user.departments:
                dept, problem = self._ref("department", ref, Reason.UNKNOWN_DEPARTMENT, Reason.UNKNOWN_DEPARTMENT)
                if dept is None:
                    self.plan.warn(problem, item, ref, field="departments")
                else:
                    departments.append(ref)
            item.refs.update(roles=sorted(roles), departments=departments)
            if item.action == "done":
                continue
            if not accounts.USERNAME_RE.match(user.username or ""):
                item.reject(Reason.INVALID_USERNAME, user.username)
            elif unknown or bad or not roles:
                item.reject(Reason.UNKNOWN_ROLE, ", ".join(unknown + bad) or "no role")
            else:
                if "dept_head" in roles and not departments:
                    self.plan.warn(Warn.NO_DEPARTMENT, item)
                if user.email and not email_ok(user.email):
                    self.plan.warn(Warn.BAD_EMAIL, item, user.email, field="email")
                existing = self._existing(m.User, username=user.username)
                if existing is not None:
                    item.action, item.target = "link", ("user", existing.id)
                    self.plan.warn(Warn.USER_EXISTS, item)

    def plan_openings(self, items: list[Item]) -> None:
        for item in items:
            dept, problem = self._ref("department", item.record.department, Reason.UNKNOWN_DEPARTMENT, Reason.UNKNOWN_DEPARTMENT)
            if dept is None:
                item.refuse(problem, item.record.department)
                continue
            item.refs["department"] = dept
            if item.action == "done":
                continue
            if not (item.record.title or "").strip():
                item.reject(Reason.MISSING_NAME)
                continue
            existing = None
            if dept.target is not None:
                existing = self._existing(m.Opening, organisation=self.org, department=dept.target[1], title=item.record.title.strip())
            self._linkable(("opening", self.identity(dept), item.record.title.strip()), item, existing)

    def plan_candidates(self, items: list[Item]) -> None:
        plan = self.plan
        rules = dedup.parse_rules(plan.options.get("dedup"))
        country = plan.options.get("country_code", dedup.DEFAULT_COUNTRY_CODE)
        people, by_ref = [], {}
        for position, item in enumerate(items):
            if item.action != "done" and not (item.record.name or "").strip():
                item.reject(Reason.MISSING_NAME)
                continue
            created = self._date(item, "created_at")
            rank = (1, created is None, created or dt.datetime.max, position)
            person = dedup.Person(item.legacy_id, dedup.keys_of(item.record.phone, item.record.email, item.record.name, country), rank)
            people.append(person)
            by_ref[person.ref] = item
        if rules and plan.options.get("match_existing", True) and self.org is not None:
            own = journal.created_targets(plan.source, "candidate")
            for row in m.Candidate.select(m.Candidate.id, m.Candidate.name, m.Candidate.phone, m.Candidate.email).where(
                    m.Candidate.organisation == self.org):
                if row.id not in own:
                    people.append(dedup.Person(f"#{row.id}", dedup.keys_of(row.phone, row.email, row.name, country), (0, row.id)))
        # The source's own duplicate marks hold even with --dedup none: they are its decisions, not guesses.
        links = [(item.legacy_id, other) for item in items if item.action != "reject"
                 for other in getattr(item.record, "duplicate_of", ()) if other in by_ref]
        merges = dedup.group(people, rules, links) if (rules or links) else []
        entries = []
        for merge in merges:
            item = by_ref.get(merge.duplicate)
            if item is None or item.action == "done":
                continue  # a decision taken by an earlier run stands; it is reported from the journal below
            entry = {"kind": "candidate", "legacy_id": item.legacy_id, "into": merge.into, "rule": merge.rule, "keys": merge.keys,
                     "where": item.where}
            if merge.into.startswith("#"):
                entry["existing_candidate"] = int(merge.into[1:])
                item.action, item.target = "link", ("candidate", int(merge.into[1:]))
            else:
                item.action = "merge"
                item.refs["into"] = by_ref[merge.into]
                item.extra["merge"] = entry
            entries.append((item, entry))
        for item in items:
            earlier = (item.journal.data or {}) if item.action == "done" else {}
            entry = earlier.get("merge") or earlier.get("match")
            if entry:
                entries.append((item, dict(entry, decided_in_run=item.journal.run_id)))
        position = {id(item): n for n, item in enumerate(items)}
        plan.merges.extend(entry for _, entry in sorted(entries, key=lambda pair: position[id(pair[0])]))

    def _candidate(self, item: Item, legacy_id: str | None) -> Item | None:
        cand, problem = self._ref("candidate", legacy_id, Reason.UNKNOWN_CANDIDATE, Reason.CANDIDATE_NOT_MIGRATED)
        if cand is None:
            item.refuse(problem, legacy_id)
            return None
        item.refs["candidate"] = cand
        return cand

    def plan_applications(self, items: list[Item]) -> None:
        for item in items:
            cand = self._candidate(item, item.record.candidate)
            opening, problem = self._ref("opening", item.record.opening, Reason.UNKNOWN_OPENING, Reason.UNKNOWN_OPENING)
            if cand is None:
                continue
            if opening is None:
                item.refuse(problem, item.record.opening)
                continue
            item.refs["opening"] = opening
            existing = None
            ci, oi = self.identity(cand), self.identity(opening)
            if ci[0] == "db" and oi[0] == "db":
                existing = self._existing(m.Application, candidate=ci[2], opening=oi[2])
            self._linkable(("application", ci, oi), item, existing)

    def plan_grants(self, items: list[Item]) -> None:
        for item in items:
            user, problem = self._ref("user", item.record.user, Reason.UNKNOWN_USER, Reason.USER_NOT_MIGRATED)
            if user is None:
                item.refuse(problem, item.record.user)
                continue
            item.refs["user"] = user
            cand = self._candidate(item, item.record.candidate)
            if cand is None:
                continue
            if item.record.permission not in m.GRANT_PERMISSIONS:
                item.refuse(Reason.UNKNOWN_PERMISSION, item.record.permission)
                continue
            ui, ci = self.identity(user), self.identity(cand)
            existing = None
            if ui[0] == "db" and ci[0] == "db":
                existing = (m.Grant.select().where((m.Grant.user == ui[2]) & (m.Grant.candidate == ci[2])
                                                   & (m.Grant.permission == item.record.permission) & m.Grant.revoked_at.is_null())
                            .first())
            self._linkable(("grant", ui, ci, item.record.permission), item, existing)

    def plan_interviews(self, items: list[Item]) -> None:
        for item in items:
            cand = self._candidate(item, item.record.candidate)
            if cand is None:
                continue
            if item.record.opening:
                opening, problem = self._ref("opening", item.record.opening, Reason.UNKNOWN_OPENING, Reason.UNKNOWN_OPENING)
                if opening is None:
                    self.plan.warn(Warn.UNKNOWN_OPENING, item, item.record.opening, field="opening")
                item.refs["opening"] = opening
            interviewers = []
            for ref in item.record.interviewers:
                user, problem = self._ref("user", ref, Reason.UNKNOWN_USER, Reason.USER_NOT_MIGRATED)
                if user is None:
                    self.plan.warn(Warn.UNKNOWN_INTERVIEWER, item, ref, field="interviewers")
                else:
                    interviewers.append(user)
            item.refs["interviewers"] = interviewers
            item.extra["recordings"] = []

    def plan_recordings(self, items: list[Item]) -> None:
        settings = self.state.settings
        from talentreel.server.media import pipeline
        from talentreel.server.media.probe import MediaRejected, validate

        for item in items:
            rec = item.record
            interview = None
            if rec.interview:
                interview = self.plan.get("interview", rec.interview)
                if interview is None:
                    item.refuse(Reason.UNKNOWN_INTERVIEW, rec.interview)
                    continue
                if interview.action == "reject":
                    item.refuse(Reason.INTERVIEW_NOT_MIGRATED, f"{rec.interview}: {interview.reason}")
                    continue
                interview.extra.setdefault("recordings", []).append(item)
                item.refs["interview"] = interview
                item.refs["candidate"] = interview.refs["candidate"]
            else:
                if self._candidate(item, rec.candidate) is None:
                    continue
            if item.action == "done":
                continue
            try:
                path = rec.path if rec.path is not None else (rec.fetch() if rec.fetch else None)
            except Exception as exc:  # a remote source that cannot deliver the file
                item.reject(Reason.VIDEO_MISSING, f"{type(exc).__name__}: {exc}")
                continue
            if path is None or not Path(path).is_file():
                item.reject(Reason.VIDEO_MISSING, f"{path} not found" if path else "the source names no file")
                continue
            item.extra["path"] = Path(path)
            try:
                info = validate(path, settings["max_upload_bytes"], settings["max_duration_seconds"])
            except MediaRejected as exc:
                item.reject(for_media_rejection(exc.reason), media_detail(exc))
                continue
            item.extra["plan"] = pipeline.plan(info)
            item.extra["duration"] = info.duration
            if rec.sha256:
                digest = sha256_of(path)
                if digest.lower() != rec.sha256.strip().lower():
                    item.reject(Reason.VIDEO_CHECKSUM, f"expected {rec.sha256}, file has {digest}")
                    continue
        # An interview whose recordings all failed is not migrated: it would be a replay of nothing.
        for interview in self.plan.items["interview"]:
            if interview.action in ("reject", "done"):
                continue
            recordings = interview.extra.get("recordings", [])
            if recordings and all(rec.action == "reject" for rec in recordings):
                interview.reject(recordings[0].reason, recordings[0].detail)

    def plan_reports(self, items: list[Item]) -> None:
        label_map = self.plan.label_map
        for item in items:
            rep = item.record
            recording = None
            if rep.recording:
                recording, problem = self._ref("recording", rep.recording, Reason.UNKNOWN_RECORDING, Reason.RECORDING_NOT_MIGRATED)
                if recording is None:
                    item.refuse(problem, rep.recording)
                    continue
            else:
                interview, problem = self._ref("interview", rep.interview, Reason.UNKNOWN_INTERVIEW, Reason.INTERVIEW_NOT_MIGRATED)
                if interview is None:
                    item.refuse(problem, rep.interview)
                    continue
                usable = [x for x in interview.extra.get("recordings", []) if x.action != "reject"]
                if not usable:
                    item.refuse(Reason.RECORDING_NOT_MIGRATED, f"interview {rep.interview} has no recording")
                    continue
                recording = usable[0]
                if len(usable) > 1:
                    self.plan.warn(Warn.EXTRA_RECORDINGS, item, recording.legacy_id)
            item.refs["recording"] = recording
            item.refs["candidate"] = recording.refs.get("candidate")
            # labels are counted for every report, so the report's label table is complete
            low, high = rep.scale
            scores, unmapped = [], []
            for label in rep.labels:
                name = labels.normal_label(label.name)
                if not name:
                    continue
                mapped = label_map.resolve(name)
                self.plan.labels_seen[name] = self.plan.labels_seen.get(name, 0) + 1
                if mapped is None:
                    self.plan.unmapped[name] = self.plan.unmapped.get(name, 0) + 1
                    unmapped.append(name)
                score = label.score
                if score is not None and (math.isnan(score) or not low <= score <= high):
                    self.plan.warn(Warn.BAD_SCORE, item, f"{name}={label.score}", field="score")
                    score = None
                scores.append({"label": mapped or name, "legacy_label": name, "mapped": mapped is not None, "score": score})
            moments, unplaced = [], []
            duration = recording.extra.get("duration")
            for moment in rep.moments:
                name = labels.normal_label(moment.label) if moment.label else None
                if name and name not in self.plan.labels_seen:
                    self.plan.labels_seen[name] = 0
                mapped = label_map.resolve(name) if name else None
                if name and mapped is None and name not in unmapped:
                    self.plan.unmapped[name] = self.plan.unmapped.get(name, 0) + 1
                    unmapped.append(name)
                entry = {"start": moment.start, "end": moment.end, "label": (mapped or name) if name else None,
                         "legacy_label": name, "mapped": mapped is not None if name else None, "note": moment.note}
                if (math.isnan(moment.start) or math.isnan(moment.end) or moment.start < 0 or moment.end < moment.start
                        or (duration and moment.start > duration)):
                    self.plan.warn(Warn.BAD_MOMENT, item, f"{moment.start}-{moment.end}", field="moments")
                    entry.update(start=None if math.isnan(moment.start) else moment.start,
                                 end=None if math.isnan(moment.end) else moment.end)
                    unplaced.append(entry)
                else:
                    moments.append(entry)
            item.extra["data"] = {
                "legacy": {"source": self.plan.source, "legacy_id": item.legacy_id, "version": rep.legacy_version,
                           "scale": list(rep.scale), "labels": scores, "unmapped_labels": unmapped, "moments": moments,
                           "unplaced_moments": unplaced, "comment": rep.comment},
            }

    def plan_notes(self, items: list[Item]) -> None:
        for item in items:
            if self._candidate(item, item.record.candidate) is None:
                continue
            if item.record.interview:
                interview = self.plan.get("interview", item.record.interview)
                if interview is None or interview.action == "reject":
                    self.plan.warn(Reason.UNKNOWN_INTERVIEW if interview is None else Reason.INTERVIEW_NOT_MIGRATED, item,
                                   item.record.interview, field="interview")
                else:
                    item.refs["interview"] = interview
            if item.record.author:
                author = self.plan.get("user", item.record.author)
                if author is None or author.action == "reject":
                    self.plan.warn(Warn.UNKNOWN_AUTHOR, item, item.record.author, field="author")
                else:
                    item.refs["author"] = author
            if item.action != "done" and not (item.record.text or "").strip():
                item.reject(Reason.EMPTY)

    def plan_documents(self, items: list[Item]) -> None:
        for item in items:
            if self._candidate(item, item.record.candidate) is None or item.action == "done":
                continue
            doc = item.record
            try:
                path = doc.path if doc.path is not None else (doc.fetch() if doc.fetch else None)
            except Exception as exc:
                item.reject(Reason.DOCUMENT_MISSING, f"{type(exc).__name__}: {exc}")
                continue
            if path is None or not Path(path).is_file():
                item.reject(Reason.DOCUMENT_MISSING, f"{path} not found" if path else "the source names no file")
                continue
            item.extra["path"] = Path(path)


    def plan_skills(self, items: list[Item]) -> None:
        for item in items:
            if self._candidate(item, item.record.candidate) is None or item.action == "done":
                continue
            name = " ".join((item.record.name or "").split())
            if not name:
                item.reject(Reason.EMPTY)
            else:
                item.extra["name"] = name[:100]


def email_ok(value: str) -> bool:
    return bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value.strip()))


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
