"""The console's migration page in headless Chromium: the polling script runs under the page's
CSP and the progress cell follows the run's progress without a reload. Screenshot in
test-artifacts/ for a human to look at."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect
from test_browser import DESKTOP, Tab, chromium, live_server  # noqa: F401  (fixtures)

from talentreel.server import models as m
from talentreel.server.auth import passwords

pytestmark = pytest.mark.browser


def test_progress_updates_live(chromium, live_server, db, make_user, monkeypatch):  # noqa: F811
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    make_user("ops", roles=("it_admin",))
    run = m.MigrationRun.create(kind="opencats", location="/backups/catsbackup.bak", state="running",
                                progress={"phase": "load", "done": 10, "total": 200})
    tab = Tab(chromium, live_server, DESKTOP, "en-US")
    try:
        tab.sign_in("ops")
        tab.open("/admin/admin_migrations/")
        cell = tab.page.locator(f'tr[data-run="{run.id}"] .run-progress')
        assert cell.inner_text().startswith("5%")
        m.MigrationRun.update(state="done", progress={"phase": "load", "done": 200, "total": 200}).where(m.MigrationRun.id == run.id).execute()
        expect(tab.page.locator(f'tr[data-run="{run.id}"] .run-state')).to_have_text("done", timeout=10000)  # the next poll
        assert cell.inner_text().startswith("100%")
        tab.shot("admin-migrations")
        assert not tab.errors, tab.errors
    finally:
        tab.close()
