"""Background jobs as the database records them: state, attempts, errors; retry and cancel."""

from __future__ import annotations

from flask import current_app, flash
from flask_admin.actions import action

from talentreel.server import audit, jobs, models as m
from talentreel.server.i18n import gettext as _, lazy_gettext as _l

from .security import ConsoleModelView


def _progress(view, context, item, name):
    progress = item.progress or {}
    if "fraction" not in progress:
        return ""
    return f"{progress['fraction'] * 100:.0f}% {progress.get('message', '')}".strip()


class WorkItemView(ConsoleModelView):
    required_action = "jobs.manage"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("id", "queue", "func", "args", "state", "attempts", "progress", "error", "created_at", "updated_at")
    column_labels = {"queue": _l("Queue"), "func": _l("Job"), "args": _l("Arguments"), "state": _l("State"), "attempts": _l("Attempts"),
                     "progress": _l("Progress"), "error": _l("Error"), "created_at": _l("Created"), "updated_at": _l("Updated")}
    column_filters = ("queue", "state")
    column_default_sort = ("id", True)
    column_formatters = {"progress": _progress, "error": lambda v, c, item, n: (item.error or "").splitlines()[0][:200] if item.error else ""}

    @action("retry", _l("Retry"), _l("Queue the selected jobs again?"))
    def action_retry(self, ids):
        settings = current_app.extensions["talentreel"].settings
        items = list(m.WorkItem.select().where(m.WorkItem.id.in_([int(i) for i in ids]) & m.WorkItem.state.in_(("failed", "cancelled"))))
        for item in items:
            # A fresh item: the failed one stays as the record of what went wrong.
            jobs.enqueue(settings, item.queue, item.func, *(item.args or []))
            audit.record("job.retry", item)
        flash(_("%(count)d job(s) queued again.", count=len(items)))

    @action("cancel", _l("Cancel"), _l("Cancel the selected jobs?"))
    def action_cancel(self, ids):
        """Pending jobs are cancelled outright; a running job is asked to stop (it checks its
        cancel flag while working, kills its ffmpeg child and records itself cancelled)."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        items = list(m.WorkItem.select().where(m.WorkItem.id.in_([int(i) for i in ids]) & m.WorkItem.state.in_(("pending", "running"))))
        conn = None
        try:
            conn = jobs.connect(current_app.extensions["talentreel"].settings)
        except Exception:  # Redis down: the database still records the decision
            pass
        for item in items:
            if item.state == "pending":
                m.WorkItem.update(state="cancelled", updated_at=m.utcnow()).where(m.WorkItem.id == item.id).execute()
            if conn is not None:
                try:
                    rq_job = Job.fetch(item.rq_job_id, connection=conn)
                except NoSuchJobError:
                    continue
                rq_job.meta["cancel_requested"] = True
                rq_job.save_meta()
                if item.state == "pending":
                    rq_job.cancel()
            audit.record("job.cancel", item)
        flash(_("%(count)d job(s) cancelled.", count=len(items)))
