"""Users, departments and grants."""

from __future__ import annotations

from flask import flash, g
from flask_admin.actions import action

from talentreel.server import audit, models as m
from talentreel.server.accounts import set_active
from talentreel.server.auth.sessions import revoke_all
from talentreel.server.i18n import gettext as _, lazy_gettext as _l

from .security import ConsoleModelView


def _roles(view, context, user, name):
    return ", ".join(sorted(user.roles))


class UserView(ConsoleModelView):
    required_action = "user.manage"
    can_create = False  # users are created with a password: `talentreel createuser` or the API
    can_delete = False  # disable instead: the audit trail keeps pointing at the account
    column_list = ("username", "display_name", "email", "roles", "is_active", "last_login_at", "created_at")
    column_labels = {"username": _l("Username"), "display_name": _l("Display name"), "email": _l("E-mail"), "roles": _l("Roles"),
                     "is_active": _l("Active"), "last_login_at": _l("Last sign-in"), "created_at": _l("Created")}
    column_formatters = {"roles": _roles}
    column_searchable_list = ("username", "display_name", "email")
    column_filters = ("is_active",)
    form_columns = ("display_name", "email", "locale", "is_active")
    column_details_exclude_list = ("password_hash",)

    def on_model_change(self, form, user, is_created):
        if not user.is_active:
            revoke_all(user)  # a disabled account is signed out at once
        audit.record("user.change", user, details={"fields": sorted(f.name for f in form if f.name != "csrf_token")})

    @action("disable", _l("Disable and sign out"), _l("Disable the selected users?"))
    def action_disable(self, ids):
        for user in m.User.select().where(m.User.id.in_([int(i) for i in ids])):
            if user.id == g.user.id:
                flash(_("You cannot disable your own account."), "error")
                continue
            set_active(user, False)
            audit.record("user.disable", user)
        flash(_("Done."))

    @action("enable", _l("Enable"))
    def action_enable(self, ids):
        for user in m.User.select().where(m.User.id.in_([int(i) for i in ids])):
            set_active(user, True)
            audit.record("user.enable", user)
        flash(_("Done."))

    @action("signout", _l("Sign out everywhere"))
    def action_signout(self, ids):
        for user in m.User.select().where(m.User.id.in_([int(i) for i in ids])):
            revoke_all(user)
            audit.record("user.signout", user)
        flash(_("Done."))


class DepartmentView(ConsoleModelView):
    required_action = "user.manage"
    column_list = ("name", "code", "organisation")
    column_labels = {"name": _l("Name"), "code": _l("Code"), "organisation": _l("Organisation")}
    form_columns = ("organisation", "name", "code")
    can_delete = False  # openings and memberships hang off departments


class GrantView(ConsoleModelView):
    """Explicit access beyond a role; revoked, never deleted, so the access review can show history."""

    required_action = "grant.manage"
    can_delete = False
    can_edit = False
    column_list = ("user", "candidate", "permission", "reason", "created_at", "expires_at", "revoked_at", "last_used_at")
    column_labels = {"user": _l("User"), "candidate": _l("Candidate"), "permission": _l("Permission"), "reason": _l("Reason"),
                     "created_at": _l("Created"), "expires_at": _l("Expires"), "revoked_at": _l("Revoked"), "last_used_at": _l("Last used")}
    form_columns = ("user", "candidate", "permission", "reason", "expires_at")
    column_formatters = {"user": lambda v, c, grant, n: grant.user.username, "candidate": lambda v, c, grant, n: grant.candidate.name}

    def on_model_change(self, form, grant, is_created):
        grant.granted_by = g.user

    def after_model_change(self, form, grant, is_created):
        audit.record("grant.create", grant, details={"user": grant.user_id, "candidate": grant.candidate_id, "permission": grant.permission})

    @action("revoke", _l("Revoke"), _l("Revoke the selected grants?"))
    def action_revoke(self, ids):
        for grant in m.Grant.select().where(m.Grant.id.in_([int(i) for i in ids]) & m.Grant.revoked_at.is_null()):
            grant.revoked_at = m.utcnow()
            grant.save()
            audit.record("grant.revoke", grant)
        flash(_("Done."))
