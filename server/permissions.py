"""One place that decides access: every page, API route, media token, export and admin view asks
`can()` (or `require()`), which asks the permission hook (any deny wins, no allow means no)."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, redirect, request, url_for

from .errors import PermissionDenied

ACTIONS = (
    "candidate.list", "candidate.view", "candidate.create", "candidate.edit", "candidate.delete",
    "candidate.export", "candidate.erase", "candidate.request_erasure", "candidate.invite", "recording.share",
    "opening.list", "opening.view", "opening.create", "opening.edit",
    "interview.list", "interview.view", "interview.create", "interview.edit",
    "recording.view", "recording.play", "recording.create",
    "report.view", "report.comment", "report.feedback", "calibration.view", "calibration.run",
    "rater_calibration.view",
    "department.list", "grant.manage", "tag.manage", "search.run",
    "admin.access", "system.health", "system.settings", "user.manage", "plugins.view", "audit.view", "jobs.manage",
    "migrations.view",
)
"""Every action the core asks about; plugins' hook implementations may rely on this list."""


def can(user, action: str, obj=None, app=None) -> bool:
    if user is None or not user.is_active:
        return False
    app = app or current_app
    votes = app.extensions["talentreel"].plugins.hook.talentreel_permission(user=user, action=action, obj=obj)
    if any(v is False for v in votes):
        return False
    return any(v is True for v in votes)


def visible(user, action: str, objs, app=None) -> list:
    """The objects of `objs` the user may `action`, each one still asked of the permission hook
    (a plugin's deny always wins), with the user's roles and departments read once for the whole
    batch instead of once per object."""
    objs = list(objs)
    if user is None or not objs:
        return []
    if not user.is_active:
        return []
    app = app or current_app
    with user.access_pinned():
        # Plugins read what they need for the whole batch first (one query, not one per row) ...
        app.extensions["talentreel"].plugins.hook.talentreel_permission_prefetch(user=user, action=action, objs=objs)
        # ... and every object is still put to every plugin.
        return [obj for obj in objs if can(user, action, obj, app)]


def require(action: str, obj=None) -> None:
    if not can(getattr(g, "user", None), action, obj):
        raise PermissionDenied(action)


def login_required(view):
    """Web views: anonymous visitors go to the sign-in page and come back afterwards."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(g, "user", None) is None:
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)

    return wrapper
