"""Plugins and system health."""

from __future__ import annotations

import shutil
import time

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose

from talentreel.server import jobs
from talentreel.server.errors import ValidationError
from talentreel.server.i18n import gettext as _
from talentreel.server.permissions import require
from talentreel.server.plugins import describe_plugins

from . import health_checks, plugin_settings
from .security import ConsolePage

DISK_WARN_FRACTION = 0.9


class PluginsView(ConsolePage):
    required_action = "plugins.view"

    @expose("/")
    def index(self):
        from talentreel.server.accounts import default_organisation

        state = current_app.extensions["talentreel"]
        plugins = describe_plugins(state.plugins)
        for row in plugins:
            row["settings"] = plugin_settings.instance_settings(row["name"], state.plugins.get_plugin(row["name"]), state.settings)
            row["org_settings"] = [k for k, spec in plugin_settings.ORG_THRESHOLDS.items() if spec[0] == row["name"]]
        return self.render("admin_console/plugins.html", plugins=plugins, disabled=state.settings["disabled_plugins"],
                           org=plugin_settings.org_values(default_organisation()), thresholds=plugin_settings.ORG_THRESHOLDS)

    @expose("/analysis", methods=("POST",))
    def analysis_settings(self):
        """The organisation's analysis switches and thresholds: all validated, then saved together."""
        from talentreel.server.accounts import default_organisation

        require("system.settings")
        try:
            switches, thresholds = plugin_settings.parse_org_form(request.form)
        except ValidationError as exc:
            flash(_("Nothing was saved: %(errors)s", errors=str(exc)), "error")
            return redirect(url_for(".index"))
        plugin_settings.save_org_settings(default_organisation(), switches, thresholds)
        flash(_("Analysis settings saved."), "success")
        return redirect(url_for(".index"))


def check_database(state) -> dict:
    started = time.perf_counter()
    try:
        state.database.execute_sql("SELECT 1")
    except Exception as exc:
        return {"ok": False, "detail": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {"ok": True, "detail": _("answered in %(ms).1f ms", ms=(time.perf_counter() - started) * 1000)}


def check_queues(state) -> tuple[dict, dict]:
    try:
        conn = jobs.connect(state.settings)
        depths = jobs.queue_depths(conn)
        from rq import Worker

        workers = Worker.all(connection=conn)
    except Exception as exc:
        failed = {"ok": False, "detail": str(exc)}
        return failed, failed
    redis_check = {"ok": True, "detail": ", ".join(f"{q}: {n}" for q, n in depths.items())}
    worker_check = {"ok": bool(workers), "detail": _("%(count)d worker(s) running", count=len(workers))}
    return redis_check, worker_check


def check_disk(state) -> dict:
    usage = shutil.disk_usage(state.settings["data_dir"])
    used = usage.used / usage.total if usage.total else 0
    return {"ok": used < DISK_WARN_FRACTION,
            "detail": _("%(free).1f GiB free of %(total).1f GiB", free=usage.free / 2**30, total=usage.total / 2**30)}


class HealthView(ConsolePage):
    required_action = "system.health"

    @expose("/")
    def index(self):
        state = current_app.extensions["talentreel"]
        redis_check, worker_check = check_queues(state)
        checks = [
            (_("Database"), check_database(state)),
            (_("Redis and queues"), redis_check),
            (_("Workers"), worker_check),
            (_("Disk"), check_disk(state)),
            (_("Media engine (ffmpeg)"), health_checks.check_ffmpeg(state)),
            (_("Analysis models"), health_checks.check_models(state)),
        ]
        media_server = health_checks.check_media_server(state)
        if media_server is not None:
            checks.append((_("Media server"), media_server))
        return self.render("admin_console/health.html", checks=checks)
