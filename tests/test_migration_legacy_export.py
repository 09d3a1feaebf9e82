"""The legacy-export migrator on the shared sample: the outcome equals sample/expected.json, a dry
run writes nothing, a second run is a no-op, a rollback removes exactly what the run created, the
users keep their reach, and migrated recordings go through the media job.
(On SQLite and PostgreSQL: TALENTREEL_TEST_DATABASE=postgres.)"""

from __future__ import annotations

import copy
import hashlib
import json
import re

import pytest
from conftest import SHARED

from talentreel.migrators import framework, reasons, testkit
from talentreel.server import models as m
from talentreel.server import scoping
from talentreel.server.accounts import create_user, default_organisation
from talentreel.server.plugins import BUILTIN_PLUGINS
from talentreel.server.recordings import MEDIA_JOB
from talentreel.workers import base as worker_base

SAMPLE = SHARED / "legacy-export" / "sample"
EXPECTED = json.loads((SAMPLE / "expected.json").read_text())
KIND = "legacy-export"
PLUGIN = "talentreel.migrators.legacy_export"


@pytest.fixture
def settings(settings):
    if PLUGIN not in BUILTIN_PLUGINS:  # until it is registered as a built-in plugin
        settings["plugins"] = [PLUGIN]
    return settings


@pytest.fixture
def state(app, db):
    worker_base.set_app(app)
    return app.extensions["talentreel"]


def migrate(state, location=SAMPLE, **options):
    run, _ = framework.start(state, KIND, str(location), options)
    return framework.execute(state, run.id)


def outcome_from_database() -> dict:
    """expected.json's structure, built from what the database holds after the run."""
    items = list(m.MigrationItem.select().where(m.MigrationItem.source == KIND).order_by(m.MigrationItem.id))
    candidates = {i.target_id: i.legacy_id for i in items if i.kind == "candidate" and i.state == "created"}
    per_candidate = {legacy: [] for legacy in sorted(candidates.values())}
    for item in items:
        if item.kind == "interview" and item.state == "created":
            interview = m.Interview.get_by_id(item.target_id)
            per_candidate[candidates[interview.candidate_id]].append(item.legacy_id)
    line = lambda item: int(re.search(r":(\d+)$", item.data["where"]).group(1))  # noqa: E731
    rejected = sorted((i for i in items if i.kind == "interview" and i.state == "rejected"), key=lambda i: (reasons.sort_key(i.reason), line(i)))
    report = m.MigrationRun.select().where(m.MigrationRun.kind == KIND).order_by(m.MigrationRun.id.desc()).first().report
    duplicate_rows = sum(1 for d in report["duplicates"] if d["kind"] == "interview")
    return {
        "candidates_in_export": sum(1 for i in items if i.kind == "candidate"),
        "unique_candidates": m.Candidate.select().count(),
        "merged_duplicates": {i.legacy_id: i.data["merge"]["into"] for i in items if i.kind == "candidate" and i.state == "merged"},
        "interviews_in_export": sum(1 for i in items if i.kind == "interview") + duplicate_rows,
        "interviews_migrated": m.Interview.select().count(),
        "rejects": [{"interview": i.legacy_id, "reason": i.reason} for i in rejected],
        "users": m.User.select().count(),
        "explicit_grants": m.Grant.select().count(),
        "interviews_per_candidate": {k: sorted(v) for k, v in per_candidate.items()},
        "label_map": report["labels"]["map"],
        "unmapped_labels": sorted(t.name for t in m.Tag.select().where(m.Tag.kind == "legacy")),
    }


def comparable(report: dict) -> dict:
    """A report without what differs between a dry run and the run (ids, times, the playback check)."""
    report = copy.deepcopy(report)
    for key in ("run", "playback_check"):
        report.pop(key, None)
    for merge in report["merges"]:
        merge.pop("decided_in_run", None)
    return report


def test_the_sample_migrates_to_expected_json(state):
    report = migrate(state)
    assert outcome_from_database() == EXPECTED
    assert report["accounted"] is True
    assert report["entities"]["candidates"] == {"in_source": 8, "migrated": 6, "new": 6, "already": 0, "linked": 0, "merged": 2,
                                                "rejected": 0, "duplicates": 0, "accounted": True}
    assert [(r["kind"], r["legacy_id"], r["reason"]) for r in report["rejects"] if r["kind"] == "interview"] == \
        [("interview", x["interview"], x["reason"]) for x in EXPECTED["rejects"]]
    assert report["duplicates"][0] == {"kind": "interview", "legacy_id": "I5001", "where": "interviews.csv:11", "first": "interviews.csv:2",
                                       "reason": "duplicate row ignored"}
    assert {f["file"]: f["encoding"] for f in report["files"]} == {"candidates.csv": "gbk", "users.csv": "gbk", "acl.csv": "gbk", "interviews.csv": "gbk"}
    assert report["media"] == {"recordings": 7, "remux": 4, "transcode": 3}
    assert report["playback_check"]["ok"] and len(report["playback_check"]["checked"]) == 3
    # Candidates keep their contacts as the survivor had them; merged duplicates fill nothing in here.
    zhang = m.Candidate.get(m.Candidate.name == "张伟")
    assert (zhang.phone, zhang.email, zhang.created_at.isoformat()) == ("13800138000", "zhang.wei@example.com", "2022-06-05T07:41:00")
    # Recordings are queued for the media job, once each; originals' checksums are kept.
    recordings = list(m.Recording.select())
    assert sorted(r.source_ref for r in recordings) == sorted(f"{KIND}:I500{n}" for n in (1, 2, 3, 5, 6, 7, 8))
    assert sorted(w.args[0] for w in m.WorkItem.select().where(m.WorkItem.func == MEDIA_JOB)) == sorted(r.id for r in recordings)
    for recording in recordings:
        source = SAMPLE / "videos" / recording.original_name
        assert recording.media["migration"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert recording.interview_id is not None
    assert not m.Recording.select().where(m.Recording.original_name == "I5004.flv").exists()


def test_reports_keep_their_labels_under_the_new_names(state):
    migrate(state)
    item = m.MigrationItem.get((m.MigrationItem.kind == "report") & (m.MigrationItem.legacy_id == "I5001"))
    report = m.Report.get_by_id(item.target_id)
    assert report.version == 1 and report.analyzers == {"migration:legacy-export": "2.1"}
    legacy = report.data["legacy"]
    assert [(x["legacy_label"], x["label"], x["score"]) for x in legacy["labels"]] == [
        ("专业技能", "专业技能", 2.5), ("沟通能力", "表达能力", 4.5), ("逻辑思维", "逻辑思维", 3.0)]
    assert legacy["moments"] == [{"start": 1.5, "end": 4.0, "label": "专业技能", "legacy_label": "专业技能", "mapped": True, "note": None}]
    assert legacy["comment"] == "回答条理清楚，举例具体。" and legacy["unmapped_labels"] == []
    candidate = report.recording.candidate
    tags = {ct.tag.name: ct for ct in m.CandidateTag.select().where(m.CandidateTag.candidate == candidate)}
    assert {"表达能力", "专业技能", "逻辑思维", "英语能力"} <= set(tags)  # I5007 (merged C2001) brought 英语沟通 -> 英语能力
    assert all(ct.source == "migration" for ct in tags.values())
    (evidence,) = [e for ct in m.CandidateTag.select().where(m.CandidateTag.candidate == candidate) for e in ct.evidence
                   if e.recording_id == report.recording_id]
    assert (evidence.start_seconds, evidence.end_seconds, evidence.candidate_tag.tag.name) == (1.5, 4.0, "专业技能")
    assert sorted(t.name for t in m.Tag.select()) == ["专业技能", "团队协作", "抗压能力", "英语能力", "表达能力", "逻辑思维"]


def test_users_arrive_with_their_roles_departments_and_no_password(state):
    migrate(state)
    users = {u.username: u for u in m.User.select()}
    assert {name: sorted(u.roles) for name, u in users.items()} == {
        "hr_li": ["hr"], "wang_manager": ["dept_head"], "tech_lead": ["dept_head"], "mkt_lead": ["dept_head"], "intv_zhou": ["interviewer"]}
    assert all(u.password_hash is None for u in users.values())
    dept = lambda u: sorted(d.name for d in m.Department.select().where(m.Department.id.in_(list(u.department_ids))))  # noqa: E731
    assert dept(users["wang_manager"]) == ["销售部"] and dept(users["tech_lead"]) == ["技术部"]
    grants = sorted((g.user.username, g.candidate.name, g.permission) for g in m.Grant.select())
    assert grants == [("intv_zhou", "刘洋", "view"), ("intv_zhou", "李娜", "view"), ("mkt_lead", "张伟", "view")]


def reach(username: str) -> set[str]:
    user = m.User.get(m.User.username == username)
    legacy = {i.target_id: i.legacy_id for i in m.MigrationItem.select().where((m.MigrationItem.kind == "candidate") & (m.MigrationItem.state == "created"))}
    return {legacy[c.id] for c in scoping.candidates(user)}


def test_users_keep_their_reach(state):
    migrate(state)
    assert reach("hr_li") == {"C1001", "C1002", "C1003", "C1004", "C1005", "C1006"}
    assert reach("wang_manager") == {"C1001", "C1006"}  # 销售部, including merged C2001's interview
    assert reach("tech_lead") == {"C1003", "C1004"}
    assert reach("intv_zhou") == {"C1003", "C1004"}  # only through the explicit grants
    assert "C1002" in reach("mkt_lead")


def test_an_explicit_grant_reaches_beyond_a_department_heads_departments(state):
    migrate(state)
    assert reach("mkt_lead") == {"C1001", "C1002"}


def test_a_dry_run_writes_nothing_and_reports_what_the_run_does(state):
    before = testkit.table_counts()
    objects_before = list(state.storage.keys(""))
    dry = framework.dry_run(state, KIND, str(SAMPLE))
    assert testkit.table_counts() == before
    assert list(state.storage.keys("")) == objects_before
    assert dry["run"]["dry_run"] is True and dry["run"]["id"] is None
    assert dry["playback_check"]["ok"] and dry["playback_check"]["checked"][0]["object"] == "source file"
    real = migrate(state)
    assert comparable(dry) == comparable(real)


def test_a_second_run_changes_nothing(state):
    migrate(state)
    counts = testkit.table_counts()
    dump = testkit.canonical_dump(state.storage)
    second = migrate(state)
    after = testkit.table_counts()
    assert {t: after[t] - counts[t] for t in counts if after[t] != counts[t]} == {"migration_run": 1, "audit_event": 2}
    assert {k: v for k, v in testkit.canonical_dump(state.storage).items() if k != "runs"} == {k: v for k, v in dump.items() if k != "runs"}
    assert second["totals"]["new"] == 0 and second["accounted"]
    assert second["entities"]["interviews"] == {"in_source": 10, "migrated": 7, "new": 0, "already": 7, "linked": 0, "merged": 0,
                                                "rejected": 2, "duplicates": 1, "accounted": True}
    assert [x["legacy_id"] for x in second["merges"]] == ["C2001", "C2002"]


@pytest.fixture
def existing(state):
    """What an instance already held before the migration: a department the export also names,
    with an opening, an account the export also has, a candidate of its own, a tag."""
    org = default_organisation()
    sales = m.Department.create(organisation=org, name="销售部")
    m.Opening.create(organisation=org, department=sales, title="渠道经理")
    create_user("hr_li", "a long enough password", ("it_admin",))
    m.Candidate.create(organisation=org, name="Ada Example", email="ada@example.com")
    m.Tag.create(organisation=org, name="表达能力", kind="competency", label_en="Communication")
    return testkit.canonical_dump(state.storage)


def test_rollback_removes_what_the_run_created_and_only_that(state, existing):
    report = migrate(state)
    assert report["entities"]["departments"]["linked"] == 1 and report["entities"]["users"]["linked"] == 1
    hr_li = m.User.get(m.User.username == "hr_li")
    assert sorted(hr_li.roles) == ["hr", "it_admin"] and hr_li.password_hash is not None
    run = m.MigrationRun.get()
    objects = list(state.storage.keys("recordings/"))
    assert objects
    summary = framework.rollback(state, run.id)
    assert summary["deleted"]["candidate"] == 6 and summary["deleted"]["recording"] == 7 and summary["kept"] == []
    assert summary["objects_deleted"] is True
    after = testkit.canonical_dump(state.storage)
    assert after.pop("runs") == [[KIND, str(SAMPLE.resolve()), "rolled_back"]]
    assert len(after.pop("recording_audit")) == 7  # the audit trail is history: it keeps the run's events
    expected = dict(existing)
    expected.pop("runs"), expected.pop("recording_audit")
    assert after == expected
    assert list(state.storage.keys("recordings/")) == []
    # Rolled back, it can be migrated again from scratch.
    again = migrate(state)
    assert again["totals"]["new"] == report["totals"]["new"]


def test_rollback_keeps_what_others_built_on(state):
    migrate(state)
    sales = m.Department.get(m.Department.name == "销售部")
    someone_elses = m.Opening.create(organisation=sales.organisation, department=sales, title="渠道经理")
    summary = framework.rollback(state, m.MigrationRun.get().id)
    assert [(k["table"], k["legacy_id"]) for k in summary["kept"]] == [("department", "销售部")]
    assert m.Opening.select().count() == 1 and m.Opening.get().id == someone_elses.id
    assert m.Candidate.select().count() == 0


def copy_export(target, drop_lines=()):
    """The sample copied to `target`, without the CSV lines containing any of `drop_lines`."""
    import shutil

    shutil.copytree(SAMPLE, target)
    for csv in target.glob("*.csv"):
        encoding = "utf-8" if csv.name == "label_map.csv" else "gbk"
        lines = csv.read_bytes().decode(encoding).split("\r\n")
        csv.chmod(0o644)
        csv.write_bytes("\r\n".join(l for l in lines if not any(d in l for d in drop_lines)).encode(encoding))
    return target


def test_runs_are_rolled_back_newest_first(state, tmp_path):
    migrate(state, copy_export(tmp_path / "early", drop_lines=("C1006",)))
    later = migrate(state)  # the full export, later
    assert later["entities"]["candidates"]["new"] == 1 and later["entities"]["candidates"]["already"] == 5
    first, second = m.MigrationRun.select().order_by(m.MigrationRun.id)
    with pytest.raises(Exception, match=f"roll those back first"):
        framework.rollback(state, first.id)
    framework.rollback(state, second.id)
    framework.rollback(state, first.id)


def test_unmerge_gives_a_duplicate_back_its_interviews(state):
    migrate(state)
    survivor = m.Candidate.get(m.Candidate.name == "张伟")
    from talentreel.migrators.merges import unmerge

    result = unmerge(state, KIND, "C2001")
    separated = m.Candidate.get_by_id(result["candidate_id"])
    assert (separated.phone, separated.email) == ("+86 138-0013-8000", "zhang.wei@example.com")
    assert [i.id for i in separated.interviews] and len(list(survivor.interviews)) == 1
    assert result["recordings"] == 1 and result["applications"] == 1
    (recording,) = separated.recordings
    with state.store.open(f"recordings/{recording.id}/original") as fh:  # re-wrapped under the new candidate's key
        assert hashlib.sha256(fh.read()).hexdigest() == recording.media["migration"]["sha256"]
    assert m.DataKey.get(m.DataKey.object_key == f"recordings/{recording.id}/original").candidate_key.candidate_id == separated.id
    framework.rollback(state, m.MigrationRun.get().id)
    assert m.Candidate.select().count() == 0


def test_migrated_recordings_are_remuxed_or_transcoded(state):
    from talentreel.workers.media import process_recording

    migrate(state, playback_sample=0)
    by_name = {r.original_name: r for r in m.Recording.select()}
    for name, how in (("I5001.flv", "remux"), ("I5002.flv", "transcode")):
        recording = by_name[name]
        assert recording.media["migration"]["planned"] == how
        process_recording(recording.id)
        recording = m.Recording.get_by_id(recording.id)
        assert recording.state == "ready", recording.error
        assert recording.media["how"] == how
        assert recording.sha256 == recording.media["migration"]["sha256"]  # the original's checksum, kept
    run = m.MigrationRun.get()
    check = framework.verify(state, run.id, sample=7)  # every recording: two replays, five originals
    assert check["ok"], check
    assert sorted(c["object"] for c in check["checked"]) == ["original"] * 5 + ["video.mp4"] * 2
    assert m.MigrationRun.get().report["playback_check"] == check
