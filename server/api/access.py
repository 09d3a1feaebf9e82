"""Looking objects up on behalf of the caller.

An object the caller may not see answers 404, never 403, so ids cannot be probed for existence;
403 is only for a visible object the caller may not act on. References inside a request body
follow the same rule and read "no such object" whether the row is missing or hidden.
"""

from __future__ import annotations

from flask import g
from werkzeug.routing import BaseConverter

from .. import models as m
from ..errors import NotFound, PermissionDenied
from ..permissions import can
from .fields import MAX_ID, invalid


class IdConverter(BaseConverter):
    """`<api_id:name>`: an id in a path, or None for digits too long to be one.

    Werkzeug's `int` converter with min/max refuses out-of-range values by skipping the rule, and
    its router then answers 405 rather than 404 when another method's rule shares the path. This
    one always matches digits and leaves "no such object" to the view, which answers 404.
    """

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int | None:
        return int(value) if len(value) <= 19 else None

    def to_url(self, value) -> str:
        return str(int(value))


def _fetch(model, object_id: int | None):
    # Out-of-range ids never reach the database: PostgreSQL would fail the query, not miss the row.
    if object_id is None or not 1 <= object_id <= MAX_ID:
        return None
    return model.get_or_none(model.id == object_id)


def visible_or_404(model, object_id: int | None, kind: str):
    obj = _fetch(model, object_id)
    if obj is None or not can(g.user, f"{kind}.view", obj):
        raise NotFound(f"{kind} {object_id}")
    return obj


def require(action: str, obj=None) -> None:
    if not can(g.user, action, obj):
        raise PermissionDenied(action)


def visible_reference(model, kind: str, name: str, object_id: int, message: str):
    """The object a body field points to; 400 with `message` when it is missing or hidden."""
    obj = _fetch(model, object_id)
    if obj is None or not can(g.user, f"{kind}.view", obj):
        raise invalid(name, message)
    return obj


def own_department(name: str, department_id: int, message: str) -> m.Department:
    # Departments have no view permission of their own: every member of an organisation may
    # name its departments, and whether they may act there is asked of the object they act on.
    dept = _fetch(m.Department, department_id)
    if dept is None or dept.organisation_id != g.user.organisation_id:
        raise invalid(name, message)
    return dept
