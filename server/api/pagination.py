"""Paginated lists: `?page=1&per_page=50`, answered as `{"items", "page", "per_page", "total"}`."""

from __future__ import annotations

import re

from flask import g, request

from .. import defaults
from ..i18n import _
from ..permissions import can
from .fields import invalid

MAX_PAGE = 2**31 - 1
"""Highest page number accepted; keeps the SQL OFFSET far inside a 64-bit integer."""

_DIGITS = re.compile(r"^[0-9]+$")  # int() would also take "+5", " 5", "5_0" and Arabic-Indic digits


def _int_param(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw):
        raise invalid(name, _("expected a whole number"))
    # Long digit strings are out of range anyway; int() of thousands of digits is slow or refused.
    value = int(raw) if len(raw) <= 18 else None
    if value is None or not 1 <= value <= maximum:
        raise invalid(name, _("expected a number from 1 to %(max)d", max=maximum))
    return value


PARAMS = ("page", "per_page")


def page_params() -> tuple[int, int]:
    # Unknown parameters are refused like unknown body fields: a misspelt "per-page" silently
    # ignored would return the default page size and look like missing data.
    for name in request.args:
        if name not in PARAMS:
            shown = name if len(name) <= 64 else name[:64] + "…"
            raise invalid(shown, _("unknown query parameter"))
    return (
        _int_param("page", 1, MAX_PAGE),
        _int_param("per_page", defaults.API_PAGE_SIZE, defaults.API_MAX_PAGE_SIZE),
    )


def envelope(items: list, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def page_of(query, model, kind: str | None, serialize) -> dict:
    """One page of a scoped query, each row passed through `can(user, "<kind>.view", row)`.

    The scoped queries mirror the default policy, so the per-row check only drops rows a plugin
    denies; `total` counts the scoped query, so such a page may hold fewer than `per_page` items.
    Filtering everything in Python instead would make every page cost the whole table.
    `kind` None skips the per-row check, for objects that have no view permission of their own.
    `serialize` takes the list of visible rows and returns their JSON.
    """
    page, per_page = page_params()
    total = query.count()
    rows = list(query.order_by(model.id).paginate(page, per_page))
    visible = rows if kind is None else [row for row in rows if can(g.user, f"{kind}.view", row)]
    return envelope(serialize(visible), page, per_page, total)


def page_of_rows(rows: list, kind: str, serialize) -> dict:
    """One page of a short list checked row by row in full, so `total` is exact."""
    page, per_page = page_params()
    visible = [row for row in rows if can(g.user, f"{kind}.view", row)]
    start = (page - 1) * per_page
    return envelope(serialize(visible[start:start + per_page]), page, per_page, len(visible))
