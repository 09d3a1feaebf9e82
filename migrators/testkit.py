"""Checks a partner runs against their own migrator (docs/migrators.md, "Testing your migrator").

    from talentreel.migrators import testkit

    records = testkit.check_reader(AcmeReader, "tests/acme-sample")       # valid and deterministic
    testkit.check_dry_run(state, "acme-hr", "tests/acme-sample")          # writes nothing
    testkit.check_idempotent(state, "acme-hr", "tests/acme-sample")       # a second run changes nothing
    testkit.check_resume(settings, "acme-hr", "tests/acme-sample", reset=empty_database)  # kill -9 anywhere

`canonical_dump()` is the comparison behind them: the migrated part of the database (and of the
object store) with database ids replaced by what the rows are (legacy ids, names), so two
databases that went through different histories compare equal when they hold the same things.
The resume check runs migrations in child processes (`python -m talentreel.migrators.testkit`)
and SIGKILLs them at chosen points: after N records, inside a recording's ingest, in the middle of
storing a recording, between the journal commit and queueing the media job, during verification.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from typing import Any, Callable, Iterable, Mapping

from . import records as r

# --- records ---------------------------------------------------------------------------------------


def validate_records(records: Iterable[Any]) -> list[str]:
    """Problems with a reader's output: wrong types, empty ids, references to ids the same output
    does not have. Dangling references are listed (the framework rejects such rows with a reason,
    which may be what a test wants), as are wrong types, which the framework refuses outright."""
    problems = []
    ids: dict[str, set[str]] = {kind: set() for kind in r.RECORD_TYPES}
    items = list(records)
    for record in items:
        if isinstance(record, (r.Rejected, r.Notice)):
            continue
        kind = r.kind_of(record)
        if kind is None:
            problems.append(f"{record!r}: not a canonical record (see talentreel.migrators.records)")
            continue
        if not isinstance(record.legacy_id, str) or not record.legacy_id.strip():
            problems.append(f"{kind} at {record.where or '?'}: legacy_id must be a non-empty string")
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if f.name.endswith("_at") and value is not None and not hasattr(value, "isoformat"):
                problems.append(f"{kind} {record.legacy_id}: {f.name} must be a datetime, got {value!r}")
        ids[kind].add(record.legacy_id)
    refs = {
        "opening": (("department", "department"),),
        "application": (("candidate", "candidate"), ("opening", "opening")),
        "grant": (("user", "user"), ("candidate", "candidate")),
        "interview": (("candidate", "candidate"), ("opening", "opening")),
        "recording": (("interview", "interview"), ("candidate", "candidate")),
        "report": (("interview", "interview"), ("recording", "recording")),
        "note": (("candidate", "candidate"), ("interview", "interview"), ("author", "user")),
        "document": (("candidate", "candidate"),),
        "skill": (("candidate", "candidate"),),
    }
    for record in items:
        kind = r.kind_of(record)
        for field_name, target in refs.get(kind, ()):
            value = getattr(record, field_name)
            if value and value not in ids[target]:
                problems.append(f"{kind} {record.legacy_id}: {field_name} {value!r} names no {target} of this source")
        if kind == "user":
            problems += [f"user {record.legacy_id}: department {d!r} names no department of this source"
                         for d in record.departments if d not in ids["department"]]
    return problems


def check_reader(reader_class, location: str, options: Mapping | None = None, *, allow_dangling: bool = True) -> list:
    """Read the source twice: the records must be valid canonical records and the same both times
    (a reader must be deterministic, or a resumed run would differ). Returns the records."""
    first = list(reader_class(location, options or {}).read())
    second = list(reader_class(location, options or {}).read())
    problems = [p for p in validate_records(first) if allow_dangling is False or "names no" not in p]
    assert not problems, "reader output is not valid:\n  " + "\n  ".join(problems)
    assert first == second, "reader output differs between two reads of the same source"
    return first


# --- the database, canonically ---------------------------------------------------------------------


def table_counts() -> dict[str, int]:
    from talentreel.server import models as m

    return {model._meta.table_name: model.select().count() for model in m.ALL_MODELS}


def canonical_dump(storage=None) -> dict:
    """What the database holds, without ids and run-specific noise (timestamps of now, hashes of
    the audit chain, run attempts). Covers every table a migration writes; `storage` (a storage
    backend) adds the object keys it holds."""
    from talentreel.server import models as m

    candidate_name: dict[int, str] = {}
    for item in m.MigrationItem.select().where((m.MigrationItem.kind == "candidate") & (m.MigrationItem.state.in_(("created", "linked")))):
        candidate_name.setdefault(item.target_id, f"{item.source}:{item.legacy_id}")
    interview_name = {i.target_id: f"{i.source}:{i.legacy_id}" for i in
                      m.MigrationItem.select().where((m.MigrationItem.kind == "interview") & (m.MigrationItem.state == "created"))}

    def cand(cid):
        if cid is None:
            return None
        if cid not in candidate_name:
            row = m.Candidate.get_or_none(m.Candidate.id == cid)
            candidate_name[cid] = f"existing:{row.name}:{row.email}" if row else f"missing:{cid}"
        return candidate_name[cid]

    departments = {d.id: d.name for d in m.Department.select()}
    users = {u.id: u.username for u in m.User.select()}
    openings = {o.id: f"{departments.get(o.department_id)}/{o.title}" for o in m.Opening.select()}
    recordings = {rec.id: rec.source_ref or f"recording:{cand(rec.candidate_id)}:{rec.original_name}" for rec in m.Recording.select()}
    tags = {t.id: t.name for t in m.Tag.select()}

    def interview(iid):
        if iid is None:
            return None
        if iid not in interview_name:
            row = m.Interview.get_or_none(m.Interview.id == iid)
            interview_name[iid] = f"interview:{cand(row.candidate_id)}:{row.scheduled_at}" if row else f"missing:{iid}"
        return interview_name[iid]

    def when(value):
        return value.isoformat() if value else None

    def key_name(key: str) -> str:
        parts = key.split("/")
        if parts[0] == "recordings" and len(parts) >= 3 and parts[1].isdigit():
            return f"recordings/{recordings.get(int(parts[1]), parts[1])}/{'/'.join(parts[2:])}"
        if parts[0] == "documents" and len(parts) >= 3 and parts[1].isdigit():
            return f"documents/{cand(int(parts[1]))}/{'/'.join(parts[2:])}"
        return key

    roles = {}
    for row in m.UserRole.select():
        roles.setdefault(row.user_id, []).append(row.role)
    memberships = {}
    for row in m.UserDepartment.select():
        memberships.setdefault(row.user_id, []).append(departments.get(row.department_id))
    interviewers = {}
    for row in m.InterviewInterviewer.select():
        interviewers.setdefault(row.interview_id, []).append(users.get(row.user_id))
    evidence = {}
    for row in m.TagEvidence.select():
        evidence.setdefault(row.candidate_tag_id, []).append([recordings.get(row.recording_id), row.start_seconds, row.end_seconds, row.note])

    def media(rec):
        data = dict(rec.media or {})
        data.pop("seconds", None)  # timings of the media job
        return data

    dump = {
        "departments": sorted([d.name, d.code] for d in m.Department.select()),
        "users": sorted([u.username, u.display_name, u.email, u.password_hash is None, u.is_active, sorted(roles.get(u.id, [])),
                         sorted(memberships.get(u.id, []))] for u in m.User.select()),
        "candidates": sorted([cand(c.id), c.name, c.phone, c.email, when(c.created_at) if c.id in candidate_name else None,
                              c.in_talent_pool] for c in m.Candidate.select()),
        "openings": sorted([openings[o.id], o.status] for o in m.Opening.select()),
        "applications": sorted([cand(a.candidate_id), openings.get(a.opening_id), a.status] for a in m.Application.select()),
        "interviews": sorted([interview(i.id), cand(i.candidate_id), openings.get(i.opening_id), when(i.scheduled_at), i.status,
                              sorted(interviewers.get(i.id, []))] for i in m.Interview.select()),
        "recordings": sorted([recordings[x.id], cand(x.candidate_id), interview(x.interview_id), x.state, x.error, x.original_name,
                              x.size_bytes, x.duration_seconds, x.sha256, json.dumps(media(x), sort_keys=True, ensure_ascii=False)]
                             for x in m.Recording.select()),
        "reports": sorted([recordings.get(x.recording_id), x.version, x.schema_version, json.dumps(x.data, sort_keys=True, ensure_ascii=False),
                           json.dumps(x.analyzers, sort_keys=True)] for x in m.Report.select()),
        "tags": sorted([t.name, t.kind, t.label_en, t.label_zh] for t in m.Tag.select()),
        "candidate_tags": sorted([cand(x.candidate_id), tags.get(x.tag_id), x.score, x.source, sorted(evidence.get(x.id, []))]
                                 for x in m.CandidateTag.select()),
        "grants": sorted([users.get(g.user_id), cand(g.candidate_id), g.permission, g.reason, g.revoked_at is None] for g in m.Grant.select()),
        "notes": sorted([cand(n.candidate_id), interview(n.interview_id), users.get(n.author_id), n.text] for n in m.CandidateNote.select()),
        "documents": sorted([cand(d.candidate_id), d.name, key_name(d.object_key), d.size_bytes, d.sha256] for d in m.CandidateDocument.select()),
        "journal": sorted([i.source, i.kind, i.legacy_id, i.state, i.target_table, _target_name(i, cand, interview, departments, users, openings, recordings, tags),
                           i.reason, i.detail] for i in m.MigrationItem.select()),
        "runs": sorted([run.kind, run.location, run.state] for run in m.MigrationRun.select()),
        "media_jobs": sorted([w.queue, w.func, [recordings.get(a, a) for a in (w.args or [])], w.state] for w in m.WorkItem.select()),
        "data_keys": sorted([key_name(k.object_key), k.stored_at is not None, cand(k.candidate_key.candidate_id) if k.candidate_key_id else None]
                            for k in m.DataKey.select()),
        "candidate_keys": sorted(cand(k.candidate_id) for k in m.CandidateKey.select()),
        "recording_audit": sorted(recordings.get(int(e.object_id), e.object_id) for e in m.AuditEvent.select().where(
            (m.AuditEvent.action == "recording.create") & (m.AuditEvent.object_type == "recording"))),
    }
    if storage is not None:
        dump["objects"] = sorted(key_name(k) for k in storage.keys(""))
    return dump


def _target_name(item, cand, interview, departments, users, openings, recordings, tags):
    table, tid = item.target_table, item.target_id
    if tid is None:
        return None
    return {"candidate": lambda: cand(tid), "interview": lambda: interview(tid), "department": lambda: departments.get(tid),
            "user": lambda: users.get(tid), "opening": lambda: openings.get(tid), "recording": lambda: recordings.get(tid),
            "tag": lambda: tags.get(tid)}.get(table, lambda: table)()


# --- runs --------------------------------------------------------------------------------------------


def run(state, kind: str, location: str, options: Mapping | None = None, **kwargs) -> dict:
    """Start (or resume) and execute a run in this process; its report."""
    from . import framework

    migration, _ = framework.start(state, kind, location, options)
    return framework.execute(state, migration.id, **kwargs)


def check_dry_run(state, kind: str, location: str, options: Mapping | None = None) -> dict:
    """A dry run writes nothing; returns its report."""
    from . import framework

    before = table_counts()
    report = framework.dry_run(state, kind, location, options)
    after = table_counts()
    assert before == after, f"the dry run wrote rows: {[t for t in before if before[t] != after[t]]}"
    return report


def check_idempotent(state, kind: str, location: str, options: Mapping | None = None) -> tuple[dict, dict]:
    """Two runs: the second creates nothing and leaves the migrated data as the first left it."""
    first = run(state, kind, location, options)
    before = canonical_dump(state.storage)
    second = run(state, kind, location, options)
    after = canonical_dump(state.storage)
    before.pop("runs"), after.pop("runs")
    assert before == after, "the second run changed: " + ", ".join(k for k in before if before[k] != after[k])
    assert second["totals"]["new"] == 0, f"the second run reports {second['totals']['new']} new rows"
    return first, second


KILL_POINTS = ("items", "ingest", "store", "queue", "verify")
"""Where check_resume kills: after N records ("items"), after the N-th recording was ingested but
before its journal commit ("ingest"), halfway through storing the N-th recording ("store"), after
the N-th recording's journal commit but before its media job is queued ("queue"), during the
final verification ("verify")."""


def run_child(settings: Mapping, kind: str, location: str, *, options: Mapping | None = None, kill: tuple[str, int] | None = None,
              dump: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a migration (or, with dump=True, only print canonical_dump()) in a child process; with
    `kill`, the child SIGKILLs itself at that point."""
    spec = {"settings": dict(settings), "kind": kind, "location": location, "options": dict(options or {}),
            "kill": list(kill) if kill else None, "dump": dump}
    return subprocess.run([sys.executable, "-m", "talentreel.migrators.testkit", json.dumps(spec)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


DEFAULT_KILLS = (("items", 3), ("ingest", 1), ("store", 1), ("queue", 1), ("items", 40), ("verify", 1))
"""One kill at each point; "items 40" assumes a source of more than about 45 records."""


def check_resume(settings: Mapping, kind: str, location: str, *, reset: Callable[[], None], options: Mapping | None = None,
                 kills: Iterable[tuple[str, int]] = DEFAULT_KILLS) -> dict:
    kills = list(kills)
    """kill -9 at each point in turn, rerunning after each; the end state must equal that of one
    uninterrupted run. `reset()` empties the database and object store named by `settings` (it is
    called before the clean run and before the interrupted ones). Returns {"clean": the clean
    run's canonical dump, "killed": the kill points that were reached}."""
    reset()
    clean = run_child(settings, kind, location, options=options)
    assert clean.returncode == 0, f"the clean run failed: {clean.stderr[-2000:]}"
    expected = json.loads(run_child(settings, kind, location, dump=True).stdout)
    reset()
    killed = []
    for point in kills:
        child = run_child(settings, kind, location, options=options, kill=point)
        if child.returncode == -signal.SIGKILL:
            killed.append(point)
        else:
            assert child.returncode == 0, f"run to be killed at {point} failed: {child.stderr[-2000:]}"
    final = run_child(settings, kind, location, options=options)
    assert final.returncode == 0, f"the resuming run failed: {final.stderr[-2000:]}"
    assert killed, "no kill point was reached: the source is too small for the kill points given"
    got = json.loads(run_child(settings, kind, location, dump=True).stdout)
    differences = [k for k in expected if expected[k] != got.get(k)]
    assert not differences, f"after kills at {killed} the database differs from a clean run in: {', '.join(differences)}"
    return {"clean": expected, "killed": killed}


def _child(spec: dict) -> None:
    from talentreel.server import create_app

    app = create_app(spec["settings"])
    state = app.extensions["talentreel"]
    from talentreel.workers import base as worker_base

    worker_base.set_app(app)
    with state.database.connection_context():
        if spec["dump"]:
            print(json.dumps(canonical_dump(state.storage), ensure_ascii=False, default=str))
            return
        kwargs = {}
        if spec["kill"]:
            kwargs = _install_kill(state, *spec["kill"])
        report = run(state, spec["kind"], spec["location"], spec["options"], **kwargs)
        print(json.dumps({"totals": report["totals"]}))


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill(state, point: str, count: int) -> dict:
    """Arrange for this process to SIGKILL itself at the `count`-th occurrence of `point`."""
    from . import loader, report

    seen = {"n": 0}

    def hit() -> bool:
        seen["n"] += 1
        return seen["n"] >= count

    if point == "items":
        return {"on_item": lambda kind, legacy_id, n: _die() if hit() else None}
    if point == "ingest":
        real = loader.ingest_file

        def ingest_then_die(*args, **kwargs):
            recording = real(*args, **kwargs)
            if hit():
                _die()
            return recording

        loader.ingest_file = ingest_then_die
    elif point == "store":
        backend = state.storage
        real_put = backend.put

        def put_half_then_die(key, fileobj, *args, **kwargs):
            if key.endswith("/original") and hit():
                class Half:
                    def __init__(self):
                        self.read_bytes = 0

                    def read(self, size=-1):
                        data = fileobj.read(size if size and size > 0 else 65536)
                        self.read_bytes += len(data)
                        if self.read_bytes > 4096:
                            _die()
                        return data

                return real_put(key, Half(), *args, **kwargs)
            return real_put(key, fileobj, *args, **kwargs)

        backend.put = put_half_then_die
    elif point == "queue":
        real_queue = loader.Loader.queue_media

        def die_before_queue(self, recording_id):
            if hit():
                _die()
            return real_queue(self, recording_id)

        loader.Loader.queue_media = die_before_queue
    elif point == "verify":
        real_check = report.playback_check

        def die_in_check(*args, **kwargs):
            if hit():
                _die()
            return real_check(*args, **kwargs)

        from . import framework

        framework.reporting.playback_check = die_in_check
    else:
        raise ValueError(f"unknown kill point {point!r}; expected one of {', '.join(KILL_POINTS)}")
    return {}


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
