"""The migration framework with bad input: encodings, dates, phone and e-mail variants, label maps
with duplicates and cycles, rows naming what does not exist, and a reader of our own that brings
notes and documents. Every problem ends in the report with its reason; none stops the run."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from conftest import SHARED

from talentreel.migrators import dedup, framework, inputs, journal, labels, testkit
from talentreel.migrators import records as r
from talentreel.migrators.reader import Reader
from talentreel.server import hookimpl
from talentreel.server import models as m
from talentreel.server.errors import ValidationError
from talentreel.server.plugins import BUILTIN_PLUGINS
from talentreel.workers import base as worker_base

SAMPLE = SHARED / "legacy-export" / "sample"
PLUGIN = "talentreel.migrators.legacy_export"


@pytest.fixture
def settings(settings):
    settings["plugins"] = ([] if PLUGIN in BUILTIN_PLUGINS else [PLUGIN]) + ["test_migration_framework"]
    return settings


@pytest.fixture
def state(app, db):
    worker_base.set_app(app)
    return app.extensions["talentreel"]


def export(tmp_path, name="export") -> Path:
    """A writable copy of the sample export."""
    target = tmp_path / name
    shutil.copytree(SAMPLE, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def edit_csv(path: Path, change, encoding_in="gbk", encoding_out="gbk") -> None:
    text = path.read_bytes().decode(encoding_in)
    path.write_bytes(change(text).encode(encoding_out) if isinstance(encoding_out, str) else encoding_out(change(text)))


def migrate(state, location, **options):
    run, _ = framework.start(state, "legacy-export", str(location), dict(options, playback_sample=0))
    return framework.execute(state, run.id)


# --- inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, encoding", [
    ("候选人编号,姓名\r\n".encode("gbk"), "gbk"),
    ("候选人编号,姓名\r\n".encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + "候选人编号,姓名".encode("utf-8"), "utf-8-sig"),
    ("𠀀,姓名".encode("gb18030"), "gb18030"),
    (b"plain ascii", "utf-8"),
])
def test_encodings_are_detected(data, encoding):
    assert inputs.decode(data).encoding == encoding


@pytest.mark.parametrize("data", ["候选人编号,姓名".encode("utf-16"), "候选人".encode("utf-16-le"), b"\x89PNG\r\n\x1a\n\x00\x00", b"caf\xe9,1"])
def test_text_in_neither_encoding_is_refused(data):
    with pytest.raises(inputs.UnknownEncoding):
        inputs.decode(data, "x.csv")


@pytest.mark.parametrize("text, expected", [
    ("2023/5/6 14:30", dt.datetime(2023, 5, 6, 14, 30)),
    ("2023-05-06 14:30:00", dt.datetime(2023, 5, 6, 14, 30)),
    ("2023年5月6日", dt.datetime(2023, 5, 6)),
    ("2023年5月6日 9:05", dt.datetime(2023, 5, 6, 9, 5)),
    ("2022/2/14 15:4", dt.datetime(2022, 2, 14, 15, 4)),
    ("２０２３－０５－０６", dt.datetime(2023, 5, 6)),
    ("20230506", dt.datetime(2023, 5, 6)),
    ("", None),
])
def test_mixed_date_formats(text, expected):
    assert inputs.parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2023-02-30", "5/6/2023"])
def test_unreadable_dates_raise(text):
    with pytest.raises(ValueError):
        inputs.parse_datetime(text)


def test_times_become_utc():
    assert inputs.to_utc(dt.datetime(2023, 4, 1, 15, 0), inputs.parse_timezone("+08:00")) == dt.datetime(2023, 4, 1, 7, 0)
    assert inputs.to_utc(dt.datetime(2023, 7, 1, 12, 0), inputs.parse_timezone("Europe/Berlin")) == dt.datetime(2023, 7, 1, 10, 0)
    with pytest.raises(ValueError, match="unknown time zone"):
        inputs.parse_timezone("Mars/Olympus")


# --- dedup -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["13800138000", "+86 138-0013-8000", "0086 138 0013 8000", "8613800138000", " 138 0013 8000 ", "+86（138）00138000"])
def test_phone_variants_normalise_alike(raw):
    assert dedup.normal_phone(raw) == "13800138000"


def test_email_and_name_normalise():
    assert dedup.normal_email(" Zhang.Wei@Example.com ") == "zhang.wei@example.com"
    assert dedup.normal_name(" Zhang  Wei ") == dedup.normal_name("zhang wei")
    assert dedup.normal_name("张伟") != dedup.normal_name("张 伟")


def person(ref, phone=None, email=None, name=None, rank=0):
    return dedup.Person(ref, dedup.keys_of(phone, email, name), (rank,))


def test_dedup_needs_two_keys_by_default_and_follows_chains():
    people = [
        person("A", "13800138000", "a@x.com", "张伟", 0),
        person("B", "+86 138 0013 8000", None, "张伟", 1),  # phone+name with A
        person("C", None, "A@X.com", "张伟", 2),  # email+name with A
        person("D", "13800138000", None, "王芳", 3),  # a shared phone alone is not enough
        person("E", "13911112222", "e@x.com", "李娜", 4),
        person("F", "13911112222", "e@x.com", "Li Na", 5),  # phone+email with E, another spelling of the name
    ]
    merges = {x.duplicate: (x.into, x.rule) for x in dedup.group(people, dedup.DEFAULT_RULES)}
    assert merges == {"B": ("A", "phone+name"), "C": ("A", "email+name"), "F": ("E", "phone+email")}


def test_dedup_rules_are_configurable():
    people = [person("A", "13800138000", None, "张伟", 0), person("B", "13800138000", None, "王芳", 1)]
    assert dedup.group(people, dedup.parse_rules("phone")) and not dedup.group(people, dedup.parse_rules(None))
    assert dedup.parse_rules("none") == ()
    with pytest.raises(ValueError, match="keys are phone, email, name"):
        dedup.parse_rules("phone+birthday")


# --- label maps ------------------------------------------------------------------------------------


def test_label_map_with_duplicates_cycles_and_chains(tmp_path):
    path = tmp_path / "map.csv"
    path.write_bytes("旧标签,新标签\r\n沟通能力,表达能力\r\n沟通能力,表达能力\r\n英语沟通,英语能力\r\n英语沟通,外语能力\r\n"
                     "A,B\r\nB,A\r\n老标签,中间\r\n中间,新标签\r\n逻辑思维,逻辑思维\r\n空,\r\n".encode("gbk"))
    result = labels.load(path)
    assert result.encoding == "gbk"
    assert result.table == {"沟通能力": "表达能力", "老标签": "新标签", "中间": "新标签", "逻辑思维": "逻辑思维"}
    problems = {p["problem"]: p for p in result.problems}
    assert problems["duplicate row"]["labels"] == ["沟通能力"] and problems["duplicate row"]["rows"] == [2, 3]
    assert problems["conflicting duplicates"]["targets"] == ["外语能力", "英语能力"]
    assert problems["cycle"]["labels"] == ["A", "B", "A"]
    assert problems["no new name"]["labels"] == ["空"]
    assert result.resolve("英语沟通") is None and result.resolve("A") is None


def test_a_bad_label_map_is_reported_and_the_run_goes_on(state, tmp_path):
    label_map = tmp_path / "map.csv"
    label_map.write_text("旧标签,新标签\n沟通能力,表达能力\n沟通能力,沟通\n抗压能力,韧性\n韧性,抗压能力\n逻辑思维,逻辑思维\n专业技能,专业技能\n", encoding="utf-8")
    report = migrate(state, SAMPLE, label_map=str(label_map))
    assert report["entities"]["reports"]["new"] == 7
    assert {p["problem"] for p in report["labels"]["problems"]} == {"conflicting duplicates", "cycle"}
    assert report["labels"]["unmapped"] == ["团队合作", "抗压能力", "沟通能力", "英语沟通"]
    legacy_tags = sorted(t.name for t in m.Tag.select().where(m.Tag.kind == "legacy"))
    assert legacy_tags == ["legacy:团队合作", "legacy:抗压能力", "legacy:沟通能力", "legacy:英语沟通"]
    report_row = m.Report.get_by_id(m.MigrationItem.get((m.MigrationItem.kind == "report") & (m.MigrationItem.legacy_id == "I5001")).target_id)
    assert report_row.data["legacy"]["unmapped_labels"] == ["沟通能力"]
    assert [x["label"] for x in report_row.data["legacy"]["labels"]] == ["专业技能", "沟通能力", "逻辑思维"]  # kept, never guessed


# --- bad exports -----------------------------------------------------------------------------------


def test_encodings_are_reported_and_utf8_works_too(state, tmp_path):
    folder = export(tmp_path)
    edit_csv(folder / "candidates.csv", lambda t: t, encoding_out="utf-8")
    edit_csv(folder / "users.csv", lambda t: t, encoding_out=lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"))
    edit_csv(folder / "acl.csv", lambda t: t, encoding_out="utf-16")
    report = migrate(state, folder)
    assert {f["file"]: f["encoding"] for f in report["files"]} == {"candidates.csv": "utf-8", "users.csv": "utf-8-sig", "interviews.csv": "gbk"}
    assert {"kind": "file", "legacy_id": "acl.csv", "reason": "unknown encoding (neither UTF-8 nor GBK)",
            "detail": "acl.csv: UTF-16 text (save it as UTF-8 or GBK)", "where": "acl.csv"} in report["rejects"]
    assert report["entities"]["candidates"]["migrated"] == 6 and report["entities"]["users"]["migrated"] == 5
    assert m.Grant.select().count() == 0 and report["accounted"]


def test_rows_naming_what_does_not_exist_are_rejected_with_reasons(state, tmp_path):
    folder = export(tmp_path)
    edit_csv(folder / "acl.csv", lambda t: t + "ghost,C1001,view\r\nintv_zhou,C9999,view\r\nintv_zhou,C1005,admin\r\n")
    edit_csv(folder / "interviews.csv", lambda t: t + "I6001,C9999,销售代表,2023-06-01 10:00,videos/I5006.flv,,hr_li\r\n"
                                                      "I6002,C1005,招聘专员,2023-06-02 10:00,videos/I5005.flv,,nobody\r\n")
    edit_csv(folder / "candidates.csv", lambda t: t + "C3001,赵六,13000000000,zhao@example.com,销售部,销售代表,last tuesday\r\n"
                                                      ",无编号,13000000001,,销售部,销售代表,2023/1/1\r\n")
    (folder / "reports" / "I7777.xml").write_text('<report interview_id="I7777" version="2.1"><label name="沟通能力" score="4"/></report>', encoding="utf-8")
    (folder / "reports" / "broken.xml").write_text("<report interview_id=", encoding="utf-8")
    report = migrate(state, folder)
    rejects = {(x["kind"], x["legacy_id"]): (x["reason"], x["detail"]) for x in report["rejects"]}
    assert rejects[("grant", "ghost/C1001/view")] == ("unknown user", "ghost")
    assert rejects[("grant", "intv_zhou/C9999/view")] == ("unknown candidate", "C9999")
    assert rejects[("grant", "intv_zhou/C1005/admin")] == ("unknown permission", "admin")
    assert rejects[("interview", "I6001")] == ("unknown candidate", "C9999")
    assert rejects[("recording", "I6001")][0] == "interview not migrated"
    assert rejects[("report", "I7777")] == ("interview not in export", "I7777")
    assert rejects[("report", "broken")][0] == "report unreadable"
    assert rejects[("candidate", None)][0] == "missing legacy id"
    warnings = {(w["warning"], w["legacy_id"]) for w in report["warnings"]}
    assert ("unreadable date", "C3001") in warnings and ("unknown interviewer", "I6002") in warnings
    assert m.Candidate.get(m.Candidate.name == "赵六")  # a bad date loses the date, not the candidate
    assert m.MigrationItem.get((m.MigrationItem.kind == "interview") & (m.MigrationItem.legacy_id == "I6002")).state == "created"
    assert report["accounted"] and all(e["accounted"] for e in report["entities"].values())


def test_a_missing_folder_stops_before_anything_is_written(state, tmp_path):
    with pytest.raises(ValidationError, match="not a folder"):
        framework.start(state, "legacy-export", str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="no candidates.csv"):
        framework.dry_run(state, "legacy-export", str(tmp_path / "empty"))
    with pytest.raises(ValidationError, match="no migrator of kind 'acme'"):
        framework.start(state, "acme", str(SAMPLE))
    assert m.MigrationRun.select().count() == 0


def test_dedup_none_keeps_every_candidate(state):
    report = migrate(state, SAMPLE, dedup="none")
    assert report["entities"]["candidates"]["new"] == 8 and report["merges"] == []


def test_candidates_already_in_talentreel_are_matched(state):
    from talentreel.server.accounts import default_organisation

    existing = m.Candidate.create(organisation=default_organisation(), name="李娜", phone="+86 137-2222-3333", email="lina@old.example.com")
    report = migrate(state, SAMPLE)
    assert report["entities"]["candidates"]["linked"] == 2  # C1003 and its duplicate C2002
    assert {(x["legacy_id"], x["into"]) for x in report["merges"]} >= {("C1003", f"#{existing.id}"), ("C2002", f"#{existing.id}")}
    assert sorted(i.id for i in existing.interviews) and m.Candidate.select().count() == 6
    framework.rollback(state, m.MigrationRun.get().id)
    assert [c.id for c in m.Candidate.select()] == [existing.id]


# --- runs ------------------------------------------------------------------------------------------


def test_a_run_held_by_a_live_process_is_not_taken_over(state):
    run, resumed = framework.start(state, "legacy-export", str(SAMPLE))
    assert not resumed
    m.MigrationRun.update(owner=f"{journal.socket.gethostname()}:1", state="running").where(m.MigrationRun.id == run.id).execute()  # pid 1 lives
    with pytest.raises(framework.MigrationBusy):
        framework.start(state, "legacy-export", str(SAMPLE))
    m.MigrationRun.update(owner=f"{journal.socket.gethostname()}:999999999").where(m.MigrationRun.id == run.id).execute()
    again, resumed = framework.start(state, "legacy-export", str(SAMPLE))
    assert resumed and again.id == run.id
    with pytest.raises(ValidationError, match="started with other options"):
        framework.start(state, "legacy-export", str(SAMPLE), {"dedup": "none"})
    report = framework.execute(state, run.id)
    assert report["run"]["attempts"] == 1 and report["run"]["id"] == run.id


# --- a reader of our own: notes and documents --------------------------------------------------------


class NotebookReader(Reader):
    """A tiny source: two candidates with notes, a CV each, a user who wrote the notes."""

    role_map = {"recruiter": ("hr",)}

    def read(self):
        root = Path(self.location)
        yield r.User("u1", "recruiter1", display_name="Rita", roles=("recruiter",))
        yield r.Candidate("p1", "Ada Lovelace", email="ada@example.com", created_at=dt.datetime(2020, 1, 2, 3, 4))
        yield r.Candidate("p2", "Alan Turing", phone="+44 20 7946 0000")
        yield r.Note("n1", "p1", "Strong on analytical engines.", author="u1", created_at=dt.datetime(2020, 2, 1))
        yield r.Note("n2", "p2", "   ")
        yield r.Note("n3", "p9", "About someone else")
        yield r.Document("d1", "p1", path=root / "ada.pdf", name="ada.pdf", content_type="application/pdf")
        yield r.Document("d2", "p2", path=root / "missing.pdf", name="missing.pdf")


@hookimpl
def talentreel_migrators():
    return [{"kind": "notebook", "version": "0.1", "title": "Test notebook", "reader": "test_migration_framework:NotebookReader"}]


def test_notes_and_documents_of_a_partner_reader(state, tmp_path):
    (tmp_path / "ada.pdf").write_bytes(b"%PDF-1.4 notes on the analytical engine")
    records = testkit.check_reader(NotebookReader, str(tmp_path))
    assert testkit.validate_records(records) == ["note n3: candidate 'p9' names no candidate of this source"]
    testkit.check_dry_run(state, "notebook", str(tmp_path))
    first, second = testkit.check_idempotent(state, "notebook", str(tmp_path))
    assert first["entities"]["notes"] == {"in_source": 3, "migrated": 1, "new": 1, "already": 0, "linked": 0, "merged": 0,
                                          "rejected": 2, "duplicates": 0, "accounted": True}
    assert {(x["legacy_id"], x["reason"]) for x in first["rejects"]} == {("n2", "empty content"), ("n3", "unknown candidate"),
                                                                        ("d2", "document file missing")}
    note = m.CandidateNote.get()
    assert (note.text, note.author.username, note.candidate.name) == ("Strong on analytical engines.", "recruiter1", "Ada Lovelace")
    document = m.CandidateDocument.get()
    with state.store.open(document.object_key) as fh:
        assert fh.read() == b"%PDF-1.4 notes on the analytical engine"
    assert state.storage.open(document.object_key).read(4) == b"TREN"  # stored encrypted
    framework.rollback(state, m.MigrationRun.select().order_by(m.MigrationRun.id).first().id)
    assert m.CandidateDocument.select().count() == 0 and list(state.storage.keys("documents/")) == []
