"""The admin console for IT admins (flask-admin at /admin).

Every view asks the permission hook for `admin.access` (and a view-specific action), so the
console follows the same policy as the rest of the product. Views live in small modules:
accounts (users, departments, grants), work (background jobs), system (plugins, health), audit,
backups, storage (tiers and usage), keys (rotation).
"""

from __future__ import annotations

import secrets

from flask import g
from flask_admin import Admin

from talentreel.server.i18n import lazy_gettext as _l


def _csp_nonce() -> str:
    # flask-admin puts this on its <script> tags; the app's CSP header allows exactly this nonce.
    if getattr(g, "csp_nonce", None) is None:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app) -> Admin:
    from talentreel.server import models as m

    from .accounts import DepartmentView, GrantView, UserView
    from .migrations import MigrationsView
    from .audit import AuditView
    from .backups import BackupRunView
    from .keys import KeysView
    from .storage import StorageView
    from .security import ConsoleHome
    from .system import HealthView, PluginsView
    from .work import WorkItemView

    from pathlib import Path

    from jinja2 import ChoiceLoader, FileSystemLoader

    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(Path(__file__).parent / "templates"))])
    admin = Admin(app, name="TalentReel", url="/admin", index_view=ConsoleHome(name=_l("Home"), url="/admin"),
                  csp_nonce_generator=_csp_nonce)
    admin.add_view(UserView(m.User, name=_l("Users"), endpoint="admin_users", category=_l("Accounts")))
    admin.add_view(DepartmentView(m.Department, name=_l("Departments"), endpoint="admin_departments", category=_l("Accounts")))
    admin.add_view(GrantView(m.Grant, name=_l("Grants"), endpoint="admin_grants", category=_l("Accounts")))
    admin.add_view(WorkItemView(m.WorkItem, name=_l("Jobs"), endpoint="admin_jobs"))
    admin.add_view(AuditView(m.AuditEvent, name=_l("Audit trail"), endpoint="admin_audit"))
    admin.add_view(MigrationsView(name=_l("Migrations"), endpoint="admin_migrations"))
    admin.add_view(PluginsView(name=_l("Plugins"), endpoint="admin_plugins", category=_l("System")))
    admin.add_view(HealthView(name=_l("Health"), endpoint="admin_health", category=_l("System")))
    admin.add_view(StorageView(name=_l("Storage"), endpoint="admin_storage", category=_l("System")))
    admin.add_view(BackupRunView(m.BackupRun, name=_l("Backups"), endpoint="admin_backups", category=_l("System")))
    admin.add_view(KeysView(name=_l("Key rotation"), endpoint="admin_keys", category=_l("System")))
    return admin
