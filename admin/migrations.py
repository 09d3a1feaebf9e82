"""Migration runs in the console: the list with live progress, and each run's verification report.

The list polls `progress.json` (the runs' state and progress as the journal's heartbeat writes
them), so a run going on in a worker shows its progress without reloading. A report names legacy
rows and their candidates' keys, so opening one is an audited view of candidate data.
"""

from __future__ import annotations

from flask import abort, jsonify
from flask_admin import expose

from talentreel.server import audit
from talentreel.server import models as m

from .security import ConsolePage

LIST_LIMIT = 100


def run_summary(run: m.MigrationRun) -> dict:
    progress = run.progress or {}
    done, total = progress.get("done"), progress.get("total")
    return {"id": run.id, "kind": run.kind, "location": run.location, "state": run.state, "attempts": run.attempts,
            "phase": progress.get("phase"), "done": done, "total": total,
            "percent": round(100 * done / total) if done is not None and total else (100 if run.state == "done" else 0),
            "accounted": (run.report or {}).get("accounted"), "error": run.error,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


class MigrationsView(ConsolePage):
    required_action = "migrations.view"

    @expose("/")
    def index(self):
        runs = [run_summary(r) for r in m.MigrationRun.select().order_by(m.MigrationRun.id.desc()).limit(LIST_LIMIT)]
        return self.render("admin_console/migrations.html", runs=runs)

    @expose("/progress.json")
    def progress(self):
        runs = m.MigrationRun.select().order_by(m.MigrationRun.id.desc()).limit(LIST_LIMIT)
        return jsonify({"runs": [run_summary(r) for r in runs]})

    @expose("/<int:run_id>/")
    def report(self, run_id: int):
        run = m.MigrationRun.get_or_none(m.MigrationRun.id == run_id)
        if run is None:
            abort(404)
        audit.record("migration.report.view", run)
        return self.render("admin_console/migration_report.html", run=run_summary(run), report=run.report or {})
