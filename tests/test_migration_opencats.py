"""The opencats migrator on the shared OpenCATS backup (plus the trouble in opencats_fixture), read
from the backup file and from a live MariaDB database loaded with the same data: the counts the
data itself gives (SQL counts on the loaded database), a second run that changes nothing, a
kill-and-resume that ends as a clean run, and the same result from both locations.
(On SQLite and PostgreSQL: TALENTREEL_TEST_DATABASE=postgres.)"""

from __future__ import annotations

import shutil

import opencats_fixture as fx
import pytest
from conftest import TEST_DATABASE, _empty_postgres

from talentreel.migrators import framework, testkit
from talentreel.server import models as m
from talentreel.server.recordings import MEDIA_JOB
from talentreel.workers import base as worker_base

KIND = "opencats"


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    return fx.troubled_backup(tmp_path_factory.mktemp("opencats"))


@pytest.fixture(scope="module")
def live(backup, tmp_path_factory):
    """A scratch OpenCATS database in the MariaDB on 127.0.0.1:3306, dropped afterwards; its URL."""
    # No skip without MariaDB: a skipped test looks like a passing one in CI (the service is part of the test setup).
    name = fx.load_into_mariadb(backup)
    attachments = fx.extract_attachments(backup, tmp_path_factory.mktemp("opencats-files"))
    yield {"name": name, "url": f"mysql://root@127.0.0.1:3306/{name}?attachments={attachments}"}
    fx.drop(name)


@pytest.fixture
def state(app, db):
    worker_base.set_app(app)
    return app.extensions["talentreel"]


def migrate(state, location, **options):
    run, _ = framework.start(state, KIND, str(location), options)
    return framework.execute(state, run.id)


def sql(live, query):
    return fx.count(live["name"], query)


def test_counts_are_those_of_the_opencats_data(state, live, backup):
    report = migrate(state, backup, playback_sample=1)
    e = report["entities"]
    assert report["accounted"] is True
    # Candidates: every row; one in no known encoding rejected; duplicates merged, from the
    # source's candidate_duplicates marks and from our rules (same e-mail and name, or phone and name).
    rows = sql(live, "SELECT COUNT(*) FROM candidate")
    duplicates = sql(live, """SELECT COUNT(*) FROM candidate c WHERE c.candidate_id IN (SELECT new_candidate_id FROM candidate_duplicates)
        OR EXISTS (SELECT 1 FROM candidate o WHERE o.candidate_id < c.candidate_id AND o.first_name = c.first_name
                   AND o.last_name = c.last_name AND ((o.email1 = c.email1 AND c.email1 NOT IN ('', '0'))
                   OR (o.phone_home = c.phone_home AND c.phone_home NOT IN ('', '0'))))""")
    assert (e["candidates"]["in_source"], e["candidates"]["rejected"], e["candidates"]["merged"]) == (rows, 1, duplicates)
    assert m.Candidate.select().count() == rows - 1 - duplicates
    merges = {(x["legacy_id"], x["into"], x["rule"]) for x in report["merges"]}
    assert ("3", "2", "phone+name") in merges and ("5", "6", "marked duplicate in the source") in merges  # 6 was created first
    # Users: access level 0 is a disabled account.
    assert (e["users"]["migrated"], e["users"]["rejected"]) == (sql(live, "SELECT COUNT(*) FROM user WHERE access_level > 0"),
                                                               sql(live, "SELECT COUNT(*) FROM user WHERE access_level = 0"))
    assert e["departments"]["migrated"] == sql(live, "SELECT COUNT(*) FROM company")
    assert e["openings"]["migrated"] == sql(live, "SELECT COUNT(*) FROM joborder")
    # Pipelines and activities naming no candidate are rejected with the reason.
    known = "IN (SELECT candidate_id FROM candidate WHERE candidate_id <> 902)"
    assert (e["applications"]["migrated"], e["applications"]["rejected"]) == (
        sql(live, f"SELECT COUNT(*) FROM candidate_joborder WHERE candidate_id {known}"),
        sql(live, f"SELECT COUNT(*) FROM candidate_joborder WHERE candidate_id NOT {known}"))
    assert (e["notes"]["migrated"], e["notes"]["rejected"]) == (
        sql(live, f"SELECT COUNT(*) FROM activity WHERE data_item_type = 100 AND data_item_id {known}"),
        sql(live, f"SELECT COUNT(*) FROM activity WHERE NOT (data_item_type = 100 AND data_item_id {known})"))
    rejects = {(x["kind"], x["legacy_id"]): x["reason"] for x in report["rejects"]}
    assert rejects[("application", "900")] == "unknown candidate" and rejects[("note", "900")] == "unknown candidate"
    assert rejects[("candidate", "902")] == "unknown encoding (neither UTF-8 nor GBK)"
    assert rejects[("user", "1250")] == "account disabled in the source"
    # Attachments of candidates: the video becomes a recording (media job queued), the text file a
    # document, the file missing from the backup a reject; the client's attachment is not a candidate's.
    assert rejects[("document", "901")] == "document file missing" and rejects[("document", "1")] == "not about a candidate"
    assert (e["recordings"]["migrated"], e["documents"]["migrated"]) == (1, 1)
    (recording,) = m.Recording.select()
    assert recording.source_ref == "opencats:900" and recording.candidate.name == "Christine Jordan"
    assert [w.args[0] for w in m.WorkItem.select().where(m.WorkItem.func == MEDIA_JOB)] == [recording.id]
    assert report["playback_check"]["ok"]
    # GBK text detected and converted; the zero date reported, the row kept; a date in another form read.
    assert {f["file"]: f["encoding"] for f in report["files"]}["candidate"] == "gbk"
    warnings = {(w["legacy_id"], w["warning"]) for w in report["warnings"]}
    assert {("900", "text in GBK, converted to UTF-8"), ("900", "unreadable date")} <= warnings
    zhang = m.Candidate.get(m.Candidate.name == "张伟")
    assert (zhang.phone, zhang.created_at.isoformat()) == ("13800138000", "2007-01-18T10:00:00")  # date_modified stands in
    assert m.Candidate.get(m.Candidate.name == "Ana Lima").created_at.isoformat() == "2007-01-05T09:03:00"
    # Pipelines keep their status; key skills become skill tags.
    statuses = sorted(a.status for a in m.Application.select())
    assert statuses.count("hired") == 1 + sql(live, "SELECT COUNT(*) FROM candidate_joborder WHERE status = 800 AND candidate_id <> 900")
    skills = lambda name: sorted(ct.tag.name for ct in m.CandidateTag.select().join(m.Candidate).where(m.Candidate.name == name))  # noqa: E731
    assert skills("Silas Normand") == ["C++", "Java", "MySQL"]  # 'C++, Java,, MySQL'
    assert skills("张伟") == ["Java", "沟通"]
    assert m.Tag.get(m.Tag.name == "Java").kind == "skill"
    # Users: no password, roles from the access level.
    users = {u.username: u for u in m.User.select()}
    assert sorted(users["admin"].roles) == ["hr", "it_admin"] and users["admin"].password_hash is None


def test_a_second_run_is_a_no_op(state, backup):
    first, second = testkit.check_idempotent(state, KIND, str(backup), {"playback_sample": 0})
    assert first["totals"]["new"] > 0 and second["totals"]["new"] == 0


def test_the_live_database_gives_what_the_backup_gives(state, live, backup):
    from_backup = migrate(state, backup, playback_sample=0)
    dump = testkit.canonical_dump(state.storage)
    framework.rollback(state, m.MigrationRun.select().order_by(m.MigrationRun.id.desc()).first().id)
    from_live = migrate(state, live["url"], playback_sample=0)
    dump_live = testkit.canonical_dump(state.storage)
    for d in (dump, dump_live):  # the runs differ by location; the audit trail keeps the rolled-back run's events
        d.pop("runs"), d.pop("recording_audit")
        # A missing attachment's detail names where it was looked for: a folder or the backup.
        d["journal"] = [row[:7] + [row[7] if row[3] != "rejected" else None] + row[8:] for row in d["journal"]]
    assert dump_live == dump
    differing = {k: (v, from_backup["entities"][k]) for k, v in from_live["entities"].items() if v != from_backup["entities"][k]}
    assert not differing
    where = lambda merges: [dict(x, where=x["where"].removeprefix("db/")) for x in merges]  # noqa: E731
    assert where(from_live["merges"]) == where(from_backup["merges"])


def test_bad_locations_are_refused_before_anything_is_written(state, tmp_path):
    from talentreel.server.errors import ValidationError

    (tmp_path / "not.bak").write_bytes(b"not a zip")
    for location in (tmp_path / "not.bak", tmp_path / "missing.bak", "mysql://root@127.0.0.1:1/none"):
        with pytest.raises(ValidationError):
            framework.start(state, KIND, str(location), {})
    assert m.MigrationRun.select().count() == 0


@pytest.fixture
def child_settings(data_dir, database_url):
    return {"data_dir": str(data_dir), "database_url": database_url, "log_level": "WARNING"}


@pytest.fixture
def reset(data_dir, database_url):
    def empty():
        if TEST_DATABASE == "postgres":
            _empty_postgres(database_url)
        else:
            for name in ("talentreel.db", "talentreel.db-wal", "talentreel.db-shm"):
                (data_dir / name).unlink(missing_ok=True)
        shutil.rmtree(data_dir / "objects", ignore_errors=True)

    return empty


def test_killed_anywhere_a_rerun_ends_as_one_clean_run(child_settings, reset, backup):
    kills = (("items", 3), ("ingest", 1), ("queue", 1), ("items", 90))
    result = testkit.check_resume(child_settings, KIND, str(backup), reset=reset, options={"playback_sample": 0}, kills=kills)
    assert result["killed"] == list(kills)
    assert len(result["clean"]["recordings"]) == 1
