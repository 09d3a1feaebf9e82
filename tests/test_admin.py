"""The admin console: it_admin only, CSRF-protected actions, health and plugins pages."""

from __future__ import annotations

import pytest

from conftest import PASSWORD, csrf_token_from
from talentreel.server import audit, models as m

PAGES = ["/admin/", "/admin/admin_users/", "/admin/admin_departments/", "/admin/admin_jobs/", "/admin/admin_audit/",
         "/admin/admin_plugins/", "/admin/admin_health/"]


@pytest.mark.parametrize("page", PAGES)
def test_it_admin_reaches_every_console_page(client, make_user, login, page):
    login(make_user("ops", roles=("it_admin",)))
    response = client.get(page)
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]


@pytest.mark.parametrize("roles", [("hr",), ("dept_head",), ("interviewer",), ("candidate",)])
def test_other_roles_are_refused(client, make_user, login, roles):
    login(make_user("someone", roles=roles))
    for page in PAGES:
        assert client.get(page).status_code == 403, page


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/admin/admin_users/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_grants_need_hr_as_well(client, make_user, login):
    login(make_user("ops", roles=("it_admin",)))
    assert client.get("/admin/admin_grants/").status_code == 403  # grants name candidates
    both = make_user("ops_hr", roles=("it_admin", "hr"))
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    login(both)
    assert client.get("/admin/admin_grants/").status_code == 200


def test_disable_action_signs_the_user_out(app, client, make_user, login):
    victim = make_user("victim", roles=("hr",))
    victim_client = app.test_client()
    page = victim_client.get("/login")
    victim_client.post("/login", data={"username": "victim", "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert victim_client.get("/").status_code == 200

    login(make_user("ops", roles=("it_admin",)))
    listing = client.get("/admin/admin_users/").get_data(as_text=True)
    token = csrf_token_from(listing)
    # Without the CSRF token the action is refused.
    assert client.post("/admin/admin_users/action/", data={"action": "disable", "rowid": [str(victim.id)]}).status_code == 400
    response = client.post("/admin/admin_users/action/", data={"action": "disable", "rowid": [str(victim.id)], "csrf_token": token})
    assert response.status_code == 302
    assert not m.User.get_by_id(victim.id).is_active
    assert victim_client.get("/").status_code == 302  # session dead at once
    assert m.AuditEvent.select().where(m.AuditEvent.action == "user.disable").count() == 1


def test_health_page_reports_database_and_disk(client, make_user, login):
    login(make_user("ops", roles=("it_admin",)))
    html = client.get("/admin/admin_health/").get_data(as_text=True)
    assert "Database" in html and "answered in" in html and "GiB free" in html
    assert "ffmpeg version" in html and "pocketsphinx en-us" in html and "haarcascade_frontalface_default.xml" in html


def test_health_page_names_a_missing_model_and_a_silent_media_server(app, settings, make_user):
    """A Vosk path holding no model and a media server that does not answer are shown as failing."""
    from talentreel.server import create_app
    from conftest import PASSWORD, csrf_token_from

    broken = create_app(dict(settings, vosk_model_path=str(settings["data_dir"]), media_url="http://{host}:1", media_port=1))
    user = make_user("ops2", roles=("it_admin",))
    client = broken.test_client()
    page = client.get("/login")
    client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    html = client.get("/admin/admin_health/").get_data(as_text=True)
    assert "holds no Vosk model" in html and "does not answer" in html


def test_plugins_page_lists_builtins(client, make_user, login):
    login(make_user("ops", roles=("it_admin",)))
    html = client.get("/admin/admin_plugins/").get_data(as_text=True)
    assert "storage_local" in html and "talentreel_permission" in html


def test_audit_verify_button(client, make_user, login):
    login(make_user("ops", roles=("it_admin",)))
    audit.record("test.event", object_type="thing", object_id=1)
    listing = client.get("/admin/admin_audit/").get_data(as_text=True)
    response = client.post("/admin/admin_audit/verify", data={"csrf_token": csrf_token_from(listing)}, follow_redirects=True)
    assert "The audit trail is intact." in response.get_data(as_text=True)


def test_console_pages_carry_a_csp_nonce(client, make_user, login):
    login(make_user("ops", roles=("it_admin",)))
    response = client.get("/admin/admin_users/")
    csp = response.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.get_data(as_text=True)
