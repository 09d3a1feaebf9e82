"""`talentreel search`: the talent pool query from the command line, with a user's permissions."""

from __future__ import annotations

import click

from .. import models as m
from ..errors import ValidationError
from . import Instance, cli, emit, json_option, pass_instance


def _acting_user(username: str | None) -> m.User:
    """The user whose reach the search has: --user, else the organisation's first active HR user
    (the operator of the command line has the database anyway; the audit trail names the user)."""
    if username:
        user = m.User.get_or_none((m.User.username == username) & (m.User.is_active == True))  # noqa: E712
        if user is None:
            raise ValidationError(f"no active user named {username!r}")
        return user
    user = (m.User.select().join(m.UserRole).where((m.UserRole.role == "hr") & (m.User.is_active == True))  # noqa: E712
            .order_by(m.User.id).first())
    if user is None:
        raise ValidationError("no active HR user to search as; name one with --user")
    return user


@cli.command()
@click.argument("query")
@click.option("--user", "username", envvar="TALENTREEL_USER", help="Search with this user's permissions "
              "(default: the first active HR user).")
@click.option("--page", default=1, show_default=True, type=int)
@click.option("--per-page", default=20, show_default=True, type=int)
@json_option
@pass_instance
def search(instance: Instance, query, username, page, per_page, as_json):
    """Search the talent pool (see docs/talent-pool.md for the query language)."""
    from .. import audit
    from ..pool import search as pool_search

    app = instance.app()
    # A request context for translated messages; the connection is closed before it ends.
    with app.test_request_context(), app.extensions["talentreel"].database.connection_context():
        user = _acting_user(username)
        result = pool_search.run(user, query, page, per_page, locale=user.locale or "en")
        audit.record("pool.search", None, actor=user, details={"candidates": [h.candidate.id for h in result.items], "via": "cli"})
    data = result.as_dict()
    lines = [f"{data['total']}{'+' if data['total_capped'] else ''} candidates match"]
    for hit in data["items"]:
        lines.append(f"{hit['candidate']['id']:>7}  {hit['candidate']['name']}")
        for moment in hit["moments"]:
            lines.append(f"         {moment['why']} at {moment['second']:g}s  {moment['url']}  {moment['snippet'][:80]}")
    lines += [f"note: {n}" for n in data["notes"]]
    emit(data, as_json, "\n".join(lines))
