"""Storage tiers and their usage: objects and bytes per tier, from the database's record of every
stored object (listing a bucket object by object would cost a request each), and what the newest
backup holds on the backup target."""

from __future__ import annotations

import re

from flask import current_app
from flask_admin import expose

from talentreel.server import models as m

from .backups import newest_succeeded
from .security import ConsolePage

_RECORDING_KEY = re.compile(r"^recordings/(\d+)/")


def usage_per_tier() -> dict[str, dict[str, int]]:
    """{tier: {"objects": n, "bytes": ciphertext bytes}}; an object of a recording is in the
    recording's tier, any other object is hot."""
    tiers = {r.id: r.tier for r in m.Recording.select(m.Recording.id, m.Recording.tier)}
    usage = {"hot": {"objects": 0, "bytes": 0}, "cold": {"objects": 0, "bytes": 0}}
    rows = m.DataKey.select(m.DataKey.object_key, m.DataKey.ciphertext_size).where(m.DataKey.stored_at.is_null(False)).tuples()
    for key, size in rows:
        match = _RECORDING_KEY.match(key)
        tier = tiers.get(int(match.group(1)), "hot") if match else "hot"
        slot = usage.setdefault(tier, {"objects": 0, "bytes": 0})
        slot["objects"] += 1
        slot["bytes"] += size or 0
    return usage


def _where(settings) -> dict[str, str]:
    if settings["storage_backend"] == "local":
        return {"hot": settings["storage_path"], "cold": settings["storage_cold_path"] or ""}
    if settings["storage_backend"] == "s3":
        bucket = settings["s3_bucket"] + (f" / {settings['s3_prefix']}" if settings["s3_prefix"] else "")
        return {"hot": f"{bucket} (STANDARD)", "cold": f"{bucket} ({settings['s3_cold_storage_class']})"}
    return {"hot": settings["storage_backend"], "cold": settings["storage_backend"]}


class StorageView(ConsolePage):
    required_action = "system.health"

    @expose("/")
    def index(self):
        settings = current_app.extensions["talentreel"].settings
        usage = usage_per_tier()
        where = _where(settings)
        rows = [{"tier": tier, "where": where.get(tier, ""), **numbers} for tier, numbers in usage.items()]
        return self.render("admin_console/storage.html", rows=rows, backend=settings["storage_backend"],
                           cold_after_days=settings["cold_after_days"], has_cold=bool(where.get("cold")), backup=newest_succeeded())
