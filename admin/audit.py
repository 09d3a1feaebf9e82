"""The audit trail, read-only, with a check of its hash chain."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_admin import expose

from talentreel.server import audit
from talentreel.server.i18n import gettext as _, lazy_gettext as _l

from .security import ConsoleModelView


class AuditView(ConsoleModelView):
    required_action = "audit.view"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("at", "actor_name", "action", "object_type", "object_id", "ip", "details")
    column_labels = {"at": _l("When"), "actor_name": _l("Who"), "action": _l("Action"), "object_type": _l("Object"),
                     "object_id": _l("Object id"), "ip": _l("From"), "details": _l("Details")}
    column_filters = ("action", "actor_name", "object_type", "at")
    column_searchable_list = ("actor_name", "action", "object_id")
    column_default_sort = ("id", True)
    list_template = "admin_console/audit_list.html"

    @expose("/verify", methods=("POST",))
    def verify(self):
        problems = audit.verify()
        if problems:
            for line in problems[:20]:
                flash(line, "error")
        else:
            flash(_("The audit trail is intact."), "success")
        return redirect(url_for(".index_view"))
