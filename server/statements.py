"""Hot statements rendered once per shape instead of at every call.

peewee renders a query's SQL anew each time it runs, walking the expression tree: 0.1–0.4 ms per
statement here. A talent-pool search runs ten statements around the one that does the work (the
API token, the user's roles, the query's tags, the page's candidates, their evidence and tags, the
audit chain's head), and rendering them was about 2 ms of a request whose SQL takes a few. Such a
statement's SQL depends only on its shape: which tables and columns, and how many values each IN
list holds. So peewee renders it the first time, the text is kept under a key naming the shape, and
later calls bind their own values to the kept text.

The caller gives the values in the order the statement binds them. The first rendering checks that
they are exactly the values peewee bound, so a caller whose order is wrong fails at its first call
(in its tests), never later with wrong rows. Keys are kept per kind of database (the parameter
style and quoting differ) and at most MAX_SHAPES of them; past that, statements are rendered as
usual.
"""

from __future__ import annotations

from typing import Callable, Sequence

import peewee as pw

from .db import underlying

MAX_SHAPES = 4096
"""Shapes kept per process. A shape's key holds its IN lists' lengths, which a page size (at most
100) or a query's terms bound, so a few hundred are seen in practice."""

_rendered: dict[tuple, str] = {}


class ShapeMismatch(RuntimeError):
    """The values a caller gave are not the ones its statement binds (a programming error)."""


def sql_for(database, key: tuple, build: Callable[[], pw.Query], params: Sequence) -> str:
    """The SQL text of the statement `build()` makes, whose values are `params` in binding order.

    key: what the statement is and everything that changes its text (each list's length, which
    optional clauses it has); build: makes the statement with these very values, called only the
    first time."""
    target = underlying(database)
    full_key = (type(target), *key)
    sql = _rendered.get(full_key)
    if sql is None:
        sql, bound = target.get_sql_context().sql(build()).query()
        if list(bound) != list(params):
            raise ShapeMismatch(f"statement {key!r}: the caller's values {list(params)!r} are not the ones it binds {list(bound)!r}")
        if len(_rendered) < MAX_SHAPES:
            _rendered[full_key] = sql
    return sql


def execute(database, key: tuple, build: Callable[[], pw.Query], params: Sequence):
    """Run the statement (see sql_for) and return the driver's cursor."""
    return database.execute_sql(sql_for(database, key, build, params), tuple(params))


def models(model: type[pw.Model], key: tuple, build: Callable[[], pw.Query], params: Sequence) -> list:
    """The statement's rows as `model` instances, each column converted by its field as a select
    would (columns that are not the model's become plain attributes)."""
    database = model._meta.database
    return list(model.raw(sql_for(database, key, build, params), *params))


def forget() -> None:
    """Drop every kept statement (tests; a schema change within one process)."""
    _rendered.clear()
