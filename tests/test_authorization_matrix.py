"""The authorization matrix: every route the app registers (web, API, admin console, plugins;
HEAD included), for every role, against an object the role should reach ("own") and one it
should not ("foreign"), compared with POLICY below. A route missing from POLICY fails the test:
whoever adds a route decides here who may use it.

Reading POLICY: for each endpoint, each role maps to what it may reach:
    "OF"  own and foreign objects      "O"  own objects only
    "A"   allowed (a route about no object)      ""  nothing: 401, 403, 404 or the sign-in page
The objects: candidate C1 applied to an opening of the department head's department, has an
interview the interviewer is assigned to, is the candidate user's own profile, and has a recording
shared with them; C2 is of another department, its interview unassigned, its recording unshared.
So a dept_head of 销售部 must not reach the 技术部 candidate by any route.

Allowed requests that change state (POST, PATCH, DELETE) are not sent (their effects are the
subject of the functional tests); every denied one is sent, with CSRF checks off so that the
permission check itself is what refuses it, and must leave nothing changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import url_for

from conftest import FIXTURES, PASSWORD, csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.auth import passwords
from talentreel.server.recordings import ingest_file
from talentreel.workers import base as worker_base
from talentreel.workers.media import process_recording

ROLES = ("anon", "hr", "dept_head", "interviewer", "candidate", "it_admin")
STAFF = {"hr": "A", "dept_head": "A", "interviewer": "A", "candidate": "A", "it_admin": "A"}
EVERYONE = dict(STAFF, anon="A")
HR_ONLY = {"hr": "A"}
HR_AND_IT = {"hr": "A", "it_admin": "A"}
IT_ONLY = {"it_admin": "A"}
CANDIDATE_FILE = {"hr": "OF", "dept_head": "O", "interviewer": "O"}  # staff reach to a candidate's file
HR_OBJECT = {"hr": "OF"}
SEARCHERS = {"hr": "A", "dept_head": "A", "interviewer": "A"}

# Endpoints of flask-admin model views: it_admin only, every one of them.
ADMIN_VIEWS = ("admin_audit", "admin_departments", "admin_jobs", "admin_users", "admin_backups")
ADMIN_ENDPOINTS = ("index_view", "action_view", "ajax_lookup", "ajax_update", "delete_view", "details_view", "edit_view",
                   "export", "create_view")

POLICY: dict[str, dict[str, str]] = {
    # --- public ---------------------------------------------------------------------------
    "meta.health": EVERYONE,
    "auth.login": EVERYONE,
    "auth.choose_locale": EVERYONE,
    "static": EVERYONE,
    "uploads.static": EVERYONE,
    "admin.static": EVERYONE,
    "auth.setup": {},  # only with the first start's token, and only while there is no user
    "portal.welcome": {},  # only with an invitation link
    "auth.logout": STAFF,
    # --- web UI -----------------------------------------------------------------------------
    "web.dashboard": STAFF,  # a candidate is sent on to the portal
    "meta.plugins_json": IT_ONLY,
    "web.candidate_list": {"hr": "A", "dept_head": "A", "interviewer": "A"},
    "web.candidate_new": HR_ONLY,
    "web.candidate_detail": dict(CANDIDATE_FILE, candidate="O"),
    "web.recording_upload": HR_OBJECT,  # dept heads and interviewers upload only with an edit grant
    "web.opening_list": {"hr": "A", "dept_head": "A"},
    "web.opening_new": HR_ONLY,
    "web.opening_detail": {"hr": "OF", "dept_head": "O"},
    "web.interview_list": {"hr": "A", "dept_head": "A", "interviewer": "A"},
    "web.interview_new": HR_ONLY,
    "web.interview_detail": CANDIDATE_FILE,
    "playback.replay": dict(CANDIDATE_FILE, candidate="O"),  # the candidate: only what HR shared
    "playback.status": dict(CANDIDATE_FILE, candidate="O"),
    "playback.media": {"anon": "OF", "hr": "OF"},  # HR's media token: the token is the credential; another signed-in user is refused
    # --- privacy ----------------------------------------------------------------------------
    "web.portal_invite": HR_OBJECT,
    "web.recording_share": HR_OBJECT,
    "web.interview_feedback": HR_OBJECT,
    "web.legal_hold": HR_OBJECT,
    "web.candidate_erase": HR_OBJECT,
    "web.erasure_requests": HR_ONLY,
    "portal.home": {"candidate": "A"},
    "portal.export": {"candidate": "O", "hr": "OF"},  # HR answers access requests made by letter too
    "portal.request_erasure": {"candidate": "O", "hr": "OF"},  # ... and records erasure requests made by phone
    "web.audit_log": HR_AND_IT,
    "web.access_review_page": HR_AND_IT,
    "web.access_review_csv": HR_AND_IT,
    # --- reviews: whoever may read a report comments on it and judges its cues -----------------
    "api.list_comments": CANDIDATE_FILE,
    "api.add_comment": CANDIDATE_FILE,
    "api.mark_cue": CANDIDATE_FILE,
    "playback.add_comment": CANDIDATE_FILE,
    "playback.judge_cue": CANDIDATE_FILE,
    "web.calibration_page": HR_ONLY,
    "web.calibration_run": HR_ONLY,
    # Interviewer calibration: aggregates only (no candidate named), so IT admins too; a dept_head's
    # page counts only their departments' candidates (tests/test_rater_calibration.py); never the
    # interviewers it judges.
    "web.rater_calibration_page": {"hr": "A", "dept_head": "A", "it_admin": "A"},
    "web.interview_consent": HR_OBJECT,
    # --- monitoring: /metrics answers loopback (the test client's address) without sign-in; from
    # elsewhere only an IT admin or the metrics token (tests/test_monitoring.py). The player's
    # beacon carries its media token as the credential.
    "monitoring.scrape": EVERYONE,
    "monitoring.beacon": EVERYONE,
    # --- talent pool: searching is scoped to what each may see; only HR manages tags ------------
    "web.pool_search_page": SEARCHERS,
    "web.pool_save_search": SEARCHERS,
    "web.pool_delete_search": {},  # nobody's saved search 999999
    "web.pool_compare": SEARCHERS,
    "web.pool_export": SEARCHERS,
    "web.pool_attach": SEARCHERS,
    "web.pool_tag_candidate": HR_OBJECT,
    "web.pool_tags": HR_ONLY,
    "web.pool_tag_edit": HR_ONLY,
    "api.search_pool": SEARCHERS,
    "api.list_saved_searches": SEARCHERS,
    "api.save_search": SEARCHERS,
    "api.delete_saved_search": {},
    "auth.setup_password": {},  # only with a first sign-in link
    # --- uploads (tus): an upload is its creator's; unknown ones are 404 to everyone ----------
    "uploads.discover": STAFF,
    "uploads.create": HR_ONLY,
    "uploads.discover_upload": STAFF,
    "uploads.status": {},
    "uploads.append": {},
    "uploads.terminate": {},
    # --- API (bearer tokens) ----------------------------------------------------------------
    "api.me": STAFF,
    "api.openapi": EVERYONE,
    "api.list_candidates": {"hr": "A", "dept_head": "A", "interviewer": "A"},
    "api.create_candidate": HR_ONLY,
    "api.get_candidate": dict(CANDIDATE_FILE, candidate="O"),
    "api.update_candidate": HR_OBJECT,
    "api.delete_candidate": HR_OBJECT,
    "api.list_candidate_recordings": dict(CANDIDATE_FILE, candidate="O"),
    "api.list_departments": HR_ONLY,
    "api.list_interviews": {"hr": "A", "dept_head": "A", "interviewer": "A"},
    "api.create_interview": HR_ONLY,
    "api.get_interview": CANDIDATE_FILE,
    "api.update_interview": HR_OBJECT,
    "api.list_openings": {"hr": "A", "dept_head": "A"},
    "api.create_opening": HR_ONLY,
    "api.get_opening": {"hr": "OF", "dept_head": "O"},
    "api.update_opening": HR_OBJECT,
    "api.get_recording": dict(CANDIDATE_FILE, candidate="O"),
    "api_uploads.discover": STAFF,
    "api_uploads.create": HR_ONLY,
    "api_uploads.discover_upload": STAFF,
    "api_uploads.status": {},
    "api_uploads.append": {},
    "api_uploads.terminate": {},
    # --- admin console ----------------------------------------------------------------------
    "admin.index": IT_ONLY,
    "admin_health.index": IT_ONLY,
    "admin_plugins.index": IT_ONLY,
    "admin_audit.verify": IT_ONLY,
    "admin_backups.run_now": IT_ONLY,
    "admin_keys.index": IT_ONLY,
    "admin_keys.rotate": IT_ONLY,
    "admin_migrations.index": IT_ONLY,
    "admin_migrations.progress": IT_ONLY,
    "admin_migrations.report": IT_ONLY,
    "admin_plugins.analysis_settings": IT_ONLY,
    "admin_storage.index": IT_ONLY,
    **{f"{view}.{endpoint}": IT_ONLY for view in ADMIN_VIEWS for endpoint in ADMIN_ENDPOINTS},
    # Grants open candidates' data: the console's grant pages need it_admin AND hr, so an IT admin
    # alone cannot grant themselves access to candidates.
    **{f"admin_grants.{endpoint}": {} for endpoint in ADMIN_ENDPOINTS},
}

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
DENIED = {401, 403, 404}


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(app, make_user):
    """Users of every role, own and foreign objects, signed-in clients and API tokens."""
    worker_base.set_app(app)
    org = default_organisation()
    own_dept = m.Department.create(organisation=org, name="销售部")  # the department head's: sales
    foreign_dept = m.Department.create(organisation=org, name="技术部")  # not theirs: engineering
    users = {
        "hr": make_user("matrix_hr", roles=("hr",)),
        "dept_head": make_user("matrix_head", roles=("dept_head",), departments=(own_dept,)),
        "interviewer": make_user("matrix_interviewer", roles=("interviewer",)),
        "candidate": make_user("matrix_candidate", roles=("candidate",)),
        "it_admin": make_user("matrix_admin", roles=("it_admin",)),
    }
    objects = {}
    for side, department in (("own", own_dept), ("foreign", foreign_dept)):
        opening = m.Opening.create(organisation=org, department=department, title=f"{side} opening")
        candidate = m.Candidate.create(organisation=org, name=f"{side} candidate",
                                       user=users["candidate"] if side == "own" else None)
        m.Application.create(candidate=candidate, opening=opening)
        interview = m.Interview.create(candidate=candidate, opening=opening)
        if side == "own":
            m.InterviewInterviewer.create(interview=interview, user=users["interviewer"])
        recording = ingest_file(app.extensions["talentreel"], FIXTURES / "interview_en" / "interview.mp4", candidate=candidate,
                                interview=interview, original_name="interview.mp4")
        process_recording(recording.id)
        m.Recording.update(shared_with_candidate=(side == "own")).where(m.Recording.id == recording.id).execute()
        objects[side] = {"candidate_id": candidate.id, "opening_id": opening.id, "interview_id": interview.id,
                         "recording_id": recording.id}
    clients = {"anon": app.test_client()}
    tokens = {"anon": None}
    for role, user in users.items():
        client = app.test_client()
        page = client.get("/login")
        assert client.post("/login", data={"username": user.username, "password": PASSWORD,
                                           "csrf_token": csrf_token_from(page.get_data(as_text=True))}).status_code == 302
        clients[role] = client
        tokens[role] = create_api_token(user, "matrix")[1]
    # HR's media tokens, from HR's replay pages.
    media = {}
    for side in ("own", "foreign"):
        html = clients["hr"].get(f"/recordings/{objects[side]['recording_id']}").get_data(as_text=True)
        media[side] = re.search(r'src="/media/([^/"]+)/video.mp4"', html).group(1)
    return {"users": users, "objects": objects, "clients": clients, "tokens": tokens, "media": media}


def _static_file(app, endpoint: str) -> str:
    folder = Path(app.blueprints[endpoint.split(".")[0]].static_folder) if "." in endpoint else Path(app.static_folder)
    return next(str(p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file())


def _values(app, world, rule, side: str) -> dict | None:
    """Path values of `rule` for the own or foreign object; None when the rule has no object."""
    objects = world["objects"][side]
    values = {}
    for name in rule.arguments:
        if name in objects:
            values[name] = objects[name]
        elif name == "token" and rule.endpoint == "playback.media":
            values[name] = world["media"][side]
        elif name == "token":
            values[name] = "0123456789abcdef0123456789abcdef"  # nobody's upload
        elif name == "name":
            values[name] = "video.mp4"
        elif name in ("export_type", "fmt"):
            values[name] = "csv"
        elif name in ("search_id", "tag_id", "run_id"):
            values[name] = 999999  # none such: refused alike, or (admin) found missing after the access check
        elif name == "filename":
            values[name] = _static_file(app, rule.endpoint)
        else:
            raise AssertionError(f"{rule.rule}: no value for <{name}>; teach the matrix test (tests/test_authorization_matrix.py)")
    return values


def _outcome(response, endpoint: str, method: str) -> str:
    location = response.headers.get("Location", "")
    status = response.status_code
    if endpoint.startswith("admin") and status == 404:
        return "allowed"  # flask-admin checks access first; its 404 then means "no such lookup or row"
    if status in DENIED or (status in (301, 302, 303) and "/login" in location):
        return "denied"
    if method in MUTATING and status in (400, 415, 422):
        # A malformed request (our empty body) is refused whoever sends it. Denied roles are also
        # refused for well-formed ones: see the functional tests of each route.
        return "denied"
    if response.status_code >= 500:
        return f"error {response.status_code}"
    return "allowed"


def _request(world, role: str, method: str, path: str):
    client = world["clients"][role]
    headers = {}
    if path.startswith("/api/") and world["tokens"][role]:
        headers["Authorization"] = f"Bearer {world['tokens'][role]}"
    if "/uploads" in path:
        headers["Tus-Resumable"] = "1.0.0"
    return client.open(path, method=method, headers=headers, data={} if method in MUTATING else None)


def test_every_route_for_every_role_matches_the_policy(app, world):
    rules = [r for r in app.url_map.iter_rules()]
    missing = sorted({r.endpoint for r in rules} - set(POLICY))
    assert not missing, f"routes missing from the policy table: {missing}"
    stale = sorted(set(POLICY) - {r.endpoint for r in rules})
    assert not stale, f"policy table names routes that no longer exist: {stale}"

    app.config["WTF_CSRF_ENABLED"] = False  # the permission check, not the CSRF check, must refuse
    mismatches = []
    checked = 0
    for rule in sorted(rules, key=lambda r: r.rule):
        expected = POLICY[rule.endpoint]
        methods = sorted((rule.methods or set()) - {"OPTIONS"})
        has_object = any(a in ("candidate_id", "opening_id", "interview_id", "recording_id") or
                         (a == "token" and rule.endpoint == "playback.media") for a in rule.arguments)
        for side in (("own", "foreign") if has_object else ("own",)):
            with app.test_request_context():
                path = url_for(rule.endpoint, **_values(app, world, rule, side))
            for role in ROLES:
                reach = expected.get(role, "")
                allowed = ("O" in reach if side == "own" else "F" in reach) if has_object else reach == "A"
                for method in methods:
                    if allowed and method in MUTATING:
                        continue  # see the module docstring
                    response = _request(world, role, method, path)
                    outcome = _outcome(response, rule.endpoint, method)
                    checked += 1
                    if outcome != ("allowed" if allowed else "denied"):
                        mismatches.append(f"{method} {path} ({rule.endpoint}) as {role}: {outcome} ({response.status_code}), "
                                          f"policy says {'allowed' if allowed else 'denied'}")
    assert not mismatches, f"{len(mismatches)} of {checked} checks differ from the policy:\n" + "\n".join(mismatches)
    # Nothing a denied request asked for happened.
    own = world["objects"]["own"]
    assert m.Candidate.select().count() == 2 and m.Recording.get_by_id(own["recording_id"]).shared_with_candidate
    assert not m.Candidate.get_by_id(own["candidate_id"]).legal_hold and m.ErasureRequest.select().count() == 0
