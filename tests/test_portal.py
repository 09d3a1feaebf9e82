"""The candidate portal and erasure: invitation link, shared replays only, the data-subject export,
the erasure request, and erasure itself (rows, objects, key; legal hold refuses it)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from conftest import FIXTURES, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords
from talentreel.server.encryption.errors import IntegrityError, UnknownObject
from talentreel.server.recordings import ingest_file, object_key
from talentreel.workers import base as worker_base
from talentreel.workers.media import process_recording

NEW_PASSWORD = "a portal password"


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def hr(make_user):
    return make_user("hr_privacy", roles=("hr",))


@pytest.fixture
def hr_client(app, hr, login, client):
    login(hr)
    return client


@pytest.fixture
def candidate(db):
    return m.Candidate.create(organisation=default_organisation(), name="Li Na", email="Li.Na@example.com")


@pytest.fixture
def recordings(app, candidate, hr):
    """Two ready recordings of the candidate (the second a copy of the first's processing)."""
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    made = []
    for name in ("interview.mp4", "legacy_h264.flv"):
        recording = ingest_file(state, FIXTURES / "interview_en" / name, candidate=candidate, original_name=name, actor=hr)
        process_recording(recording.id)
        made.append(m.Recording.get_by_id(recording.id))
    assert all(r.state == "ready" for r in made)
    return made


def post(client, page_url, action, data=None):
    token = csrf_token_from(client.get(page_url).get_data(as_text=True))
    return client.post(action, data=dict(data or {}, csrf_token=token))


def invite_link(hr_client, candidate) -> str:
    response = post(hr_client, f"/candidates/{candidate.id}", f"/candidates/{candidate.id}/portal-invite")
    assert response.status_code == 302
    page = hr_client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
    match = re.search(r"(http://localhost/portal/welcome\?token=[\w-]+)", page)
    assert match, "no portal link shown to HR"
    return match.group(1).replace("http://localhost", "")


def welcome(app, link):
    client = app.test_client()
    page = client.get(link)
    assert page.status_code == 200
    response = client.post(link, data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
                                       "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    return client


def test_invited_candidate_sees_only_shared_replays_and_feedback(app, hr_client, candidate, recordings):
    shared, private = recordings
    link = invite_link(hr_client, candidate)
    me = welcome(app, link)
    assert app.test_client().get(link).status_code == 404  # the link worked once
    assert "No replays have been shared" in me.get("/portal/").get_data(as_text=True)
    assert me.get("/", follow_redirects=False).headers["Location"].endswith("/portal/")

    post(hr_client, f"/candidates/{candidate.id}", f"/recordings/{shared.id}/share", {"shared": "1"})
    interview = m.Interview.create(candidate=candidate)
    post(hr_client, f"/candidates/{candidate.id}", f"/interviews/{interview.id}/candidate-feedback",
         {"feedback": "Clear answers; we would like to see more examples."})
    home = me.get("/portal/").get_data(as_text=True)
    assert f"/recordings/{shared.id}" in home and f"/recordings/{private.id}" not in home
    assert "Clear answers" in home

    replay = me.get(f"/recordings/{shared.id}")
    assert replay.status_code == 200
    token = re.search(r'src="/media/([^/"]+)/video.mp4"', replay.get_data(as_text=True)).group(1)
    assert app.test_client().get(f"/media/{token}/video.mp4", headers={"Range": "bytes=0-7"}).status_code == 206
    assert 'id="report"' not in replay.get_data(as_text=True)  # no AI report for the candidate
    assert me.get(f"/recordings/{private.id}").status_code == 404
    # Withdrawing the share withdraws the replay.
    post(hr_client, f"/candidates/{candidate.id}", f"/recordings/{shared.id}/share", {"shared": "0"})
    assert me.get(f"/recordings/{shared.id}").status_code == 404
    # Nothing of the staff side opens to a candidate.
    for path in ("/candidates", f"/interviews/{interview.id}", "/erasure-requests", "/admin/"):
        assert me.get(path).status_code in (403, 404), path


def test_expired_or_bogus_invite_links_are_refused(app, hr_client, candidate):
    link = invite_link(hr_client, candidate)
    m.PortalInvite.update(expires_at=m.utcnow() - dt.timedelta(seconds=1)).execute()
    assert app.test_client().get(link).status_code == 404
    assert app.test_client().get("/portal/welcome?token=nonsense").status_code == 404
    assert app.test_client().get("/portal/").status_code == 302  # to the sign-in page


def test_export_holds_own_data_and_never_anothers(app, hr_client, candidate, recordings, db):
    other = m.Candidate.create(organisation=default_organisation(), name="Someone Else")
    me = welcome(app, invite_link(hr_client, candidate))
    assert me.get(f"/portal/{other.id}/export.zip").status_code == 404
    assert me.post(f"/portal/{other.id}/erasure", data={"csrf_token": csrf_token_from(me.get("/portal/").get_data(as_text=True))}).status_code == 404
    response = me.get(f"/portal/{candidate.id}/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    data = json.loads(archive.read("data.json"))
    assert data["candidate"]["name"] == "Li Na" and len(data["recordings"]) == 2
    video = archive.read(f"media/recording-{recordings[0].id}.mp4")
    assert video[4:8] == b"ftyp"
    assert m.AuditEvent.select().where(m.AuditEvent.action == "candidate.export").count() == 1


def test_erasure_request_then_erasure_removes_rows_objects_and_key(app, hr_client, candidate, recordings, tmp_path):
    state = app.extensions["talentreel"]
    me = welcome(app, invite_link(hr_client, candidate))
    post(me, "/portal/", f"/portal/{candidate.id}/erasure")
    assert "HR will confirm" in me.get("/portal/").get_data(as_text=True)
    assert m.ErasureRequest.get().state == "requested"

    keys = [object_key(r.id, n) for r in recordings for n in ("original", "video.mp4", "poster.jpg", "sprite.jpg")]
    root = state.settings["storage_path"]
    backup = tmp_path / "old-backup"  # a copy of the ciphertext, as an old backup would hold
    shutil.copytree(root, backup)

    # Legal hold stops the erasure.
    post(hr_client, f"/candidates/{candidate.id}", f"/candidates/{candidate.id}/legal-hold", {"hold": "1"})
    refused = post(hr_client, f"/candidates/{candidate.id}/erase", f"/candidates/{candidate.id}/erase", {"confirm_name": "Li Na"})
    assert refused.status_code == 400 and "legal hold" in refused.get_data(as_text=True)
    post(hr_client, f"/candidates/{candidate.id}", f"/candidates/{candidate.id}/legal-hold", {"hold": "0"})
    wrong = post(hr_client, f"/candidates/{candidate.id}/erase", f"/candidates/{candidate.id}/erase", {"confirm_name": "Li"})
    assert wrong.status_code == 400 and m.Candidate.get_or_none(m.Candidate.id == candidate.id) is not None

    done = post(hr_client, f"/candidates/{candidate.id}/erase", f"/candidates/{candidate.id}/erase", {"confirm_name": "Li Na"})
    assert done.status_code == 302
    assert m.Candidate.get_or_none(m.Candidate.id == candidate.id) is None
    assert m.Recording.select().where(m.Recording.id.in_([r.id for r in recordings])).count() == 0
    assert m.Report.select().count() == 0 and m.Interview.select().count() == 0
    assert m.User.select().where(m.User.username.startswith(f"candidate-{candidate.id}-")).count() == 0  # the portal account went too
    for key in keys:
        assert not state.store.backend.exists(key), key
    request = m.ErasureRequest.get()
    assert request.state == "erased" and request.candidate is None and request.candidate_ref == f"candidate #{candidate.id}"
    event = m.AuditEvent.select().where(m.AuditEvent.action == "candidate.erase").get()
    assert event.object_id == str(candidate.id) and "Li Na" not in json.dumps(event.details)
    # The old backup's ciphertext cannot be opened any more: its data keys went with the candidate's key.
    shutil.rmtree(root)
    shutil.copytree(backup, root)
    with pytest.raises((UnknownObject, IntegrityError)):
        state.store.open(keys[1])
    assert "erased" in hr_client.get("/erasure-requests").get_data(as_text=True)


def test_only_hr_erases_shares_and_invites(app, candidate, make_user, login, client, recordings):
    dept_head = make_user("granted_head", roles=("dept_head",))
    m.Grant.create(user=dept_head, candidate=candidate, permission="edit", granted_by=None)
    login(dept_head)
    assert client.get(f"/candidates/{candidate.id}").status_code == 200  # the grant lets them see the file
    for action, data in ((f"/candidates/{candidate.id}/portal-invite", {}), (f"/recordings/{recordings[0].id}/share", {"shared": "1"}),
                         (f"/candidates/{candidate.id}/legal-hold", {"hold": "1"}), (f"/candidates/{candidate.id}/erase", {"confirm_name": "Li Na"})):
        assert post(client, f"/candidates/{candidate.id}", action, data).status_code == 403, action
    assert client.get("/erasure-requests").status_code in (403, 404)
    assert m.Candidate.get_by_id(candidate.id).user is None and not m.Recording.get_by_id(recordings[0].id).shared_with_candidate


def _database_dump(app, database_url: str) -> str:
    """What a database backup holds: pg_dump's SQL, or SQLite's SQL dump."""
    if database_url.startswith("postgres"):
        import subprocess

        return subprocess.run(["pg_dump", "--data-only", database_url], capture_output=True, text=True, check=True).stdout
    database = app.extensions["talentreel"].database
    database.connect(reuse_if_open=True)
    try:
        return "\n".join(database.connection().iterdump())
    finally:
        database.close()


def test_an_erased_candidate_leaves_no_trace_in_the_database_or_storage(app, settings, hr_client, make_user, login):
    """Name, e-mail and phone appear nowhere after erasure: not in a database dump (audit trail,
    migration journal and portal account included), not in any stored file."""
    name, email, phone = "Zhao Minghui", "zhao.minghui@example.com", "+86 138 0013 8000"
    candidate = m.Candidate.create(organisation=default_organisation(), name=name, email=email, phone=phone)
    worker_base.set_app(app)
    recording = ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "interview.mp4", candidate=candidate,
                            original_name=f"{name} interview.mp4")
    process_recording(recording.id)
    m.CandidateNote.create(candidate=candidate, text=f"Called {name} on {phone}")
    # The talent pool's full-text index holds what they said, their name included.
    for i in range(30):
        m.TranscriptSegment.create(recording=recording, candidate=candidate, start_seconds=i, end_seconds=i + 1,
                                   text=f"My name is {name}", terms=f"my name is zhao minghui {i}")
    run = m.MigrationRun.create(kind="legacy-export", location="/tmp/export", state="finished")
    m.MigrationItem.create(run=run, source="legacy-export:test", kind="candidate", legacy_id="7", state="created",
                           target_table="candidate", target_id=candidate.id, data={"name": name, "email": email, "phone": phone})
    hr_client.get(f"/candidates/{candidate.id}")  # audit events about the candidate
    me = welcome(app, invite_link(hr_client, candidate))  # a portal account, signed in (more audit events)
    me.get("/portal/")
    dump = _database_dump(app, settings["database_url"])
    assert name in dump and email in dump  # the search below would find them

    post(hr_client, f"/candidates/{candidate.id}/erase", f"/candidates/{candidate.id}/erase", {"confirm_name": name})
    assert m.Candidate.get_or_none(m.Candidate.id == candidate.id) is None
    dump = _database_dump(app, settings["database_url"])
    for needle in (name, email, phone, phone.replace(" ", ""), "Minghui"):
        assert needle not in dump, f"{needle!r} is still in the database"
    assert m.MigrationItem.select().where(m.MigrationItem.legacy_id == "7").count() == 1  # the journal keeps its place
    assert m.TranscriptSegment.select().count() == 0
    if not settings["database_url"].startswith("postgres"):
        database = app.extensions["talentreel"].database
        with database.connection_context():
            assert database.execute_sql("SELECT COUNT(*) FROM transcript_fts WHERE transcript_fts MATCH 'minghui'").fetchone()[0] == 0
            blocks = b"".join(bytes(r[0]) for r in database.execute_sql("SELECT block FROM transcript_fts_data") if r[0])
        assert b"minghui" not in blocks  # no old index segment keeps their words
    for path in Path(settings["data_dir"]).rglob("*"):
        if path.is_file() and not path.name.startswith("talentreel.db"):
            data = path.read_bytes()
            for needle in (name, email, phone):
                assert needle.encode() not in data, f"{needle!r} is in {path}"
