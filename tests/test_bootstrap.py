"""First start: a one-time link creates the first administrator; there is no default password."""

from __future__ import annotations

from conftest import csrf_token_from
from talentreel.server import models as m
from talentreel.server.bootstrap import setup_token_if_needed


def _setup(client, token, **form):
    page = client.get(f"/setup?token={token}")
    assert page.status_code == 200
    data = {"token": token, "username": "root_admin", "password": "a very long password", "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    data.update(form)
    return client.post("/setup", data=data)


def test_setup_link_creates_the_first_administrator_once(client, db):
    token = setup_token_if_needed()
    assert token
    response = _setup(client, token)
    assert response.status_code == 302
    admin = m.User.get(m.User.username == "root_admin")
    assert admin.roles == {"it_admin", "hr"}
    assert client.get("/").status_code == 200  # signed in straight away
    other = client.application.test_client()
    assert other.get(f"/setup?token={token}").status_code == 404  # used up
    assert setup_token_if_needed() is None  # users exist: no new link


def test_a_new_start_replaces_the_unused_link(client, db):
    first = setup_token_if_needed()
    second = setup_token_if_needed()
    assert first != second
    assert client.get(f"/setup?token={first}").status_code == 404
    assert client.get(f"/setup?token={second}").status_code == 200


def test_wrong_or_missing_token(client, db):
    setup_token_if_needed()
    assert client.get("/setup?token=guess").status_code == 404
    assert client.get("/setup").status_code == 404


def test_weak_password_is_refused_and_nothing_created(client, db):
    token = setup_token_if_needed()
    response = _setup(client, token, password="short")
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)
    assert not m.User.select().exists()


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
