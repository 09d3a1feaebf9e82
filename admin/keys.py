"""Key rotation: the key-encryption key versions with what each still wraps, and a form starting
a rotation job (optionally making a new version first), with the progress of recent rotations."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_admin import expose

from talentreel.server import audit, jobs, models as m
from talentreel.server.encryption.keyring import Keyring
from talentreel.server.encryption.rotation import key_usage
from talentreel.server.errors import ConfigError
from talentreel.server.i18n import gettext as _

from .security import ConsolePage

ROTATE_JOB = "talentreel.workers.maintenance.rotate_keys"


class KeysView(ConsolePage):
    required_action = "system.settings"

    @expose("/")
    def index(self):
        settings = current_app.extensions["talentreel"].settings
        try:
            keyring = Keyring.from_settings(settings)
        except ConfigError as exc:  # production without TALENTREEL_KEK_*: say so instead of failing the page
            flash(str(exc), "error")
            return self.render("admin_console/keys.html", versions=[], rotations=[], usage=key_usage(), can_create=False)
        usage = key_usage()
        versions = [{"version": v, "fingerprint": keyring.fingerprint(v), "source": keyring.source(v),
                     "wraps": usage["kek_versions"].get(v, {"candidate_keys": 0, "data_keys": 0}), "newest": v == keyring.newest}
                    for v in keyring.versions]
        rotations = list(m.WorkItem.select().where(m.WorkItem.func == ROTATE_JOB).order_by(m.WorkItem.id.desc()).limit(10))
        return self.render("admin_console/keys.html", versions=versions, rotations=rotations, usage=usage,
                           can_create=settings["mode"] == "embedded")

    @expose("/rotate", methods=("POST",))
    def rotate(self):
        settings = current_app.extensions["talentreel"].settings
        choice = request.form.get("new_kek", "no")
        # Validate everything before queueing anything: a refused form leaves no job behind.
        if choice not in ("yes", "no"):
            flash(_("Invalid choice for a new key version: %(value)s.", value=choice[:40]), "error")
            return redirect(url_for(".index"))
        if choice == "yes" and settings["mode"] != "embedded":
            flash(_("Production mode does not create key-encryption keys: add TALENTREEL_KEK_<n> to every process, restart them, then rotate."), "error")
            return redirect(url_for(".index"))
        if m.WorkItem.select().where(m.WorkItem.func == ROTATE_JOB, m.WorkItem.state.in_(("pending", "running"))).exists():
            flash(_("A key rotation is already queued or running."), "error")
            return redirect(url_for(".index"))
        item = jobs.enqueue(settings, "maintenance", ROTATE_JOB, choice == "yes")
        audit.record("keys.rotate", item, details={"new_kek": choice == "yes", "by": g.user.username})
        flash(_("Key rotation queued (job %(id)d).", id=item.id), "success")
        return redirect(url_for(".index"))
