"""Backups: every run with its status, size and age, the verification of each backup, and buttons
to back up now or verify selected backups. Both are queued as jobs (a backup or a read-back of
every file takes minutes), so the page only records the request."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, url_for
from flask_admin import expose
from flask_admin.actions import action

from talentreel.server import audit, jobs, models as m
from talentreel.server.i18n import gettext as _, lazy_gettext as _l

from .security import ConsoleModelView

BACKUP_JOB = "talentreel.workers.maintenance.run_backup"
VERIFY_JOB = "talentreel.workers.maintenance.verify_backup"


def age_text(since) -> str:
    if since is None:
        return ""
    seconds = max(0, (m.utcnow() - since).total_seconds())
    if seconds < 3600:
        return _("%(n)d min", n=seconds // 60)
    if seconds < 86400 * 2:
        return _("%(n).1f h", n=seconds / 3600)
    return _("%(n)d days", n=seconds // 86400)


def newest_succeeded():
    return m.BackupRun.select().where(m.BackupRun.status == "succeeded").order_by(m.BackupRun.finished_at.desc()).first()


def _verified(view, context, run, name):
    if run.verified_at is None:
        return ""
    if run.verify_ok:
        return _("intact (%(age)s ago)", age=age_text(run.verified_at))
    return _("DAMAGED: %(problems)s", problems="; ".join(run.verify_problems or []))[:400]


class BackupRunView(ConsoleModelView):
    required_action = "system.settings"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("backup_id", "status", "started_at", "age", "target", "objects", "objects_copied", "bytes", "total_bytes",
                   "verified", "error")
    column_labels = {"backup_id": _l("Backup"), "status": _l("Status"), "started_at": _l("Started"), "age": _l("Age"),
                     "target": _l("Target"), "objects": _l("Objects"), "objects_copied": _l("Copied now"),
                     "bytes": _l("Bytes written"), "total_bytes": _l("Bytes in all"), "verified": _l("Verification"), "error": _l("Error")}
    column_formatters = {"age": lambda v, c, run, n: age_text(run.finished_at or run.started_at), "verified": _verified,
                         "error": lambda v, c, run, n: (run.error or "")[:300]}
    column_filters = ("status",)
    column_default_sort = ("started_at", True)
    list_template = "admin_console/backups_list.html"

    def render(self, template, **kwargs):
        if template == self.list_template:
            newest = newest_succeeded()
            settings = current_app.extensions["talentreel"].settings
            kwargs.update(newest=newest, newest_age=age_text(newest.finished_at) if newest else None,
                          target=_configured_target(settings), backup_key=_backup_key(settings))
        return super().render(template, **kwargs)

    @expose("/run", methods=("POST",))
    def run_now(self):
        settings = current_app.extensions["talentreel"].settings
        if _configured_target(settings) is None:
            flash(_("No backup target is configured: set backup_path (or backup_backend and backup_s3_bucket)."), "error")
            return redirect(url_for(".index_view"))
        if m.WorkItem.select().where(m.WorkItem.func == BACKUP_JOB, m.WorkItem.state.in_(("pending", "running"))).exists():
            flash(_("A backup is already queued or running."), "error")
            return redirect(url_for(".index_view"))
        item = jobs.enqueue(settings, "maintenance", BACKUP_JOB, f"admin:{g.user.username}")
        audit.record("backup.request", item)
        flash(_("Backup queued (job %(id)d); it appears here when it starts.", id=item.id), "success")
        return redirect(url_for(".index_view"))

    @action("verify", _l("Verify (read every file back)"))
    def action_verify(self, ids):
        settings = current_app.extensions["talentreel"].settings
        runs = list(m.BackupRun.select().where(m.BackupRun.id.in_([int(i) for i in ids]) & (m.BackupRun.status == "succeeded")))
        for run in runs:
            item = jobs.enqueue(settings, "maintenance", VERIFY_JOB, run.backup_id)
            audit.record("backup.verify", run, details={"job": item.id})
        skipped = len(ids) - len(runs)
        flash(_("%(count)d verification(s) queued.", count=len(runs)), "success")
        if skipped:
            flash(_("%(count)d selected run(s) did not succeed and have nothing to verify.", count=skipped), "error")


def _configured_target(settings) -> str | None:
    from talentreel.server.backups.target import describe_target

    if settings["backup_backend"] == "local" and not settings["backup_path"]:
        return None
    if settings["backup_backend"] == "s3" and not settings["backup_s3_bucket"]:
        return None
    return describe_target(settings)


def _backup_key(settings):
    """The backup key's source and fingerprint (never the key), or None before the first backup."""
    from talentreel.server.backups import backupkey
    from talentreel.server.errors import ConfigError

    try:
        return backupkey.load(settings)
    except ConfigError:
        return None
