"""The console's migration page: it_admin only, a list with live progress from progress.json, and
each run's verification report (an audited view)."""

from __future__ import annotations

import re

import opencats_fixture as fx

from talentreel.migrators import framework
from talentreel.server import models as m
from talentreel.workers import base as worker_base


def test_runs_their_progress_and_report(app, client, db, make_user, login, tmp_path):
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    run, _ = framework.start(state, "opencats", str(fx.troubled_backup(tmp_path)), {"playback_sample": 0})
    report = framework.execute(state, run.id)
    running = m.MigrationRun.create(kind="legacy-export", location="/exports/acme", state="running",
                                    progress={"phase": "load", "done": 30, "total": 120})
    login(make_user("ops", roles=("it_admin",)))

    page = client.get("/admin/admin_migrations/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/admin/admin_migrations/progress.json" in html and f'data-run="{running.id}"' in html
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in html  # the polling script is allowed by the page's CSP

    runs = {r["id"]: r for r in client.get("/admin/admin_migrations/progress.json").get_json()["runs"]}
    assert (runs[running.id]["state"], runs[running.id]["percent"], runs[running.id]["done"]) == ("running", 25, 30)
    assert (runs[run.id]["state"], runs[run.id]["percent"], runs[run.id]["accounted"]) == ("done", 100, True)
    # The worker moves on: the next poll sees it.
    m.MigrationRun.update(progress={"phase": "load", "done": 120, "total": 120}).where(m.MigrationRun.id == running.id).execute()
    runs = {r["id"]: r for r in client.get("/admin/admin_migrations/progress.json").get_json()["runs"]}
    assert runs[running.id]["percent"] == 100

    shown = client.get(f"/admin/admin_migrations/{run.id}/")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    for reject in report["rejects"]:
        assert reject["reason"] in html
    assert "marked duplicate in the source" in html
    assert m.AuditEvent.select().where(m.AuditEvent.action == "migration.report.view").count() == 1
    assert client.get("/admin/admin_migrations/999/").status_code == 404


def test_only_it_admin_sees_migrations(client, db, make_user, login):
    login(make_user("recruiter", roles=("hr",)))
    assert client.get("/admin/admin_migrations/").status_code == 403
    assert client.get("/admin/admin_migrations/progress.json").status_code == 403
