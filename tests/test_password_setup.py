"""Migrated users have no password: a one-time first sign-in link (`talentreel user setup-link`)
lets them set one. The link works once, expires, and is refused to accounts that have a password."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from conftest import PASSWORD, csrf_token_from

from talentreel.server import models as m
from talentreel.server.accounts import create_user
from talentreel.server.auth import password_setup
from talentreel.server.errors import ValidationError

CLI = "from talentreel.server.cli import main; main()"


def test_a_migrated_user_sets_a_password_through_the_link(app, client, db, data_dir, database_url):
    create_user("john@customsearch.com", None, ("hr",))  # as the migration leaves it: no password
    db.close()
    result = subprocess.run([sys.executable, "-c", CLI, "--data", str(data_dir), "user", "setup-link", "john@customsearch.com",
                             "--base-url", "https://talent.example.com", "--json"], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, TALENTREEL_DATABASE_URL=database_url, TALENTREEL_LOG_LEVEL="WARNING"))
    assert result.returncode == 0, result.stderr
    link = urlparse(json.loads(result.stdout)["link"])
    assert (link.netloc, link.path) == ("talent.example.com", "/setup/password")
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200
    token = dict(p.split("=", 1) for p in link.query.split("&"))["token"]
    form = {"token": token, "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    short = client.post("/setup/password", data=dict(form, password="short", confirm="short"))
    assert short.status_code == 400  # the link stays usable
    done = client.post("/setup/password", data=dict(form, password=PASSWORD, confirm=PASSWORD))
    assert done.status_code == 302
    assert m.User.get(m.User.username == "john@customsearch.com").password_hash
    assert client.get(f"{link.path}?{link.query}").status_code == 404  # used
    assert m.AuditEvent.select().where(m.AuditEvent.action == "user.password_setup").count() == 1


def test_links_expire_are_voided_by_a_new_one_and_not_for_accounts_with_a_password(client, db, make_user):
    user = create_user("migrated", None, ("hr",))
    first = password_setup.issue(user)
    second = password_setup.issue(user)
    assert password_setup.valid(first) is None and password_setup.valid(second) is not None
    m.PasswordSetupToken.update(expires_at=m.utcnow() - dt.timedelta(minutes=1)).execute()
    assert password_setup.valid(second) is None
    assert client.get(f"/setup/password?token={second}").status_code == 404
    with pytest.raises(ValidationError):
        password_setup.issue(make_user("has_password"))
