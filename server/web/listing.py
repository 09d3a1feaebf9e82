"""Paginated, permission-checked lists for the web pages.

A list starts from a scoped query (scoping.py), which mirrors the default policy so paging can
happen in SQL; every row of the page is then asked about with `permissions.can`, so a plugin that
denies a row still hides it. The page may then show fewer rows than the page size: the pager
counts rows of the scoped query, it never re-fetches to fill the gap, so page N is stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from flask import g, request, url_for

from ..permissions import can
from . import web_bp

PAGE_SIZE = 50
"""Rows per page of every web list."""


@dataclass
class Page:
    rows: list[Any]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def requested_page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def visible_page(query, action: str, number: int | None = None, size: int = PAGE_SIZE) -> Page:
    """One page of `query`, keeping the rows the signed-in user may `action` (e.g. "candidate.view")."""
    number = requested_page_number() if number is None else number
    total = query.count()
    number = min(number, max(1, ceil(total / size)))  # past the end (a stale link): the last page
    rows = [row for row in query.paginate(number, size) if can(g.user, action, row)]
    return Page(rows=rows, number=number, total=total, size=size)


def visible(rows, action: str) -> list[Any]:
    """The rows of a detail page's sub-list (a candidate's interviews, ...) the user may `action`."""
    return [row for row in rows if can(g.user, action, row)]


@web_bp.app_template_global()
def this_page_with(**changes) -> str:
    """The current page's URL with some query arguments changed: pager links keep the filters."""
    args = {**(request.view_args or {}), **request.args.to_dict(), **changes}
    return url_for(request.endpoint, **args)
