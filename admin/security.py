"""Access to the console: signed in, and allowed `admin.access` (plus the view's own action)."""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_wtf import FlaskForm

from talentreel.server.permissions import can


class ConsoleAccess:
    """Mixin for every console view."""

    required_action = "admin.access"

    def is_accessible(self):
        user = getattr(g, "user", None)
        return user is not None and can(user, "admin.access") and can(user, self.required_action)

    def inaccessible_callback(self, name, **kwargs):
        if getattr(g, "user", None) is None:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)


class ConsoleHome(ConsoleAccess, AdminIndexView):
    @expose("/")
    def index(self):
        return self.render("admin_console/home.html")


class ConsoleModelView(ConsoleAccess, ModelView):
    # FlaskForm carries the same CSRF token the app-wide CSRFProtect checks.
    form_base_class = FlaskForm
    page_size = 50
    can_view_details = True


class ConsolePage(ConsoleAccess, BaseView):
    pass
