"""A plugin loaded through the `plugins` setting (a module path, no packaging)."""

from talentreel.server import hookimpl


@hookimpl
def talentreel_permission(user, action, obj):
    return None
