"""/search and /searches: the talent pool query through the API, and the caller's saved searches.

The query language is the web page's (docs/talent-pool.md); a malformed query, an unknown tag or
department answers 400 with `field: "q"` and a message naming the problem. Results are scoped to
what the caller may see; each hit names the moments of a replay that make it one.
"""

from __future__ import annotations

import orjson
from flask import current_app, g, jsonify, request, url_for
from flask_babel import get_locale

from .. import audit
from .. import models as m
from ..errors import NotFound
from ..pool import search as pool_search
from ..pool.query import MAX_QUERY_CHARS, QueryError, parse
from . import api_bp
from .access import require
from .fields import MAX_ID, Text, invalid, parse_body
from .pagination import _int_param

SEARCH_PARAMS = ("q", "page", "per_page")

SAVED_FIELDS = {
    "name": Text("What the search is called in the caller's list.", max_length=100, required=True),
    "query": Text("The query, in the talent pool query language.", max_length=MAX_QUERY_CHARS, required=True),
}


def _locale() -> str:
    return str(get_locale() or "en")


@api_bp.get("/search")
def search_pool():
    # The caller's roles read once for this request: the route's permission, the scoping of the
    # results and the check of every result shown (a role change applies from the next request).
    with g.user.access_pinned():
        require("search.run")
        for name in request.args:
            if name not in SEARCH_PARAMS:
                raise invalid(name if len(name) <= 64 else name[:64] + "…", "unknown query parameter")
        page = _int_param("page", 1, pool_search.MAX_TOTAL)
        per_page = _int_param("per_page", pool_search.PAGE_SIZE, pool_search.MAX_PAGE_SIZE)
        result = pool_search.run(g.user, request.args.get("q", ""), page, per_page, locale=_locale())
    audit.record("pool.search", None, actor=g.user, details={"candidates": [h.candidate.id for h in result.items]}, wait_for_disk=False)
    # orjson, not jsonify: a page of hits is 20-25 KB of JSON, which the standard encoder took
    # 0.35 ms over (orjson: 0.03). Anything not JSON by nature (a lazily translated note) is
    # written as its text.
    return current_app.response_class(orjson.dumps(result.as_dict(), default=str), mimetype="application/json")


def _saved(row: m.SavedSearch) -> dict:
    return {"id": row.id, "name": row.name, "query": row.query, "created_at": row.created_at.isoformat() + "Z"}


@api_bp.get("/searches")
def list_saved_searches():
    require("search.run")
    rows = m.SavedSearch.select().where(m.SavedSearch.user == g.user).order_by(m.SavedSearch.name)
    return jsonify({"items": [_saved(r) for r in rows]})


@api_bp.post("/searches")
def save_search():
    require("search.run")
    values = parse_body(SAVED_FIELDS, creating=True)
    try:
        parse(values["query"])  # a query that cannot run is refused now, not at every later run
    except QueryError as exc:
        raise invalid("query", str(exc)) from None
    if m.SavedSearch.select().where((m.SavedSearch.user == g.user) & (m.SavedSearch.name == values["name"])).exists():
        raise invalid("name", "you already have a saved search of this name")
    row = m.SavedSearch.create(user=g.user, **values)
    response = jsonify(_saved(row))
    response.status_code = 201
    response.headers["Location"] = url_for("api.list_saved_searches")
    return response


@api_bp.delete("/searches/<api_id:search_id>")
def delete_saved_search(search_id: int | None):
    require("search.run")
    row = None
    if search_id is not None and 1 <= search_id <= MAX_ID:
        row = m.SavedSearch.get_or_none((m.SavedSearch.id == search_id) & (m.SavedSearch.user == g.user))
    if row is None:
        raise NotFound(f"saved search {search_id}")
    row.delete_instance()
    return "", 204
