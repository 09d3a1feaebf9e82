"""Statements rendered once per shape (server/statements.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from talentreel.server import accounts, statements
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation


@pytest.fixture
def candidates(db):
    org = default_organisation()
    return [m.Candidate.create(organisation=org, name=f"Kandidat {i}") for i in range(4)]


def _by_ids(ids):
    return lambda: m.Candidate.select(m.Candidate.id, m.Candidate.name).where(m.Candidate.id.in_(ids)).order_by(m.Candidate.id)


def test_a_shape_is_rendered_once_and_runs_with_each_calls_values(db, candidates):
    statements.forget()
    first, second = [c.id for c in candidates[:2]], [c.id for c in candidates[2:]]
    rows = statements.execute(db, ("test_by_ids", 2), _by_ids(first), first).fetchall()
    assert [r[0] for r in rows] == first

    def must_not_render():
        raise AssertionError("rendered again")

    rows = statements.execute(db, ("test_by_ids", 2), must_not_render, second).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(c.id, c.name) for c in candidates[2:]]
    # Another length is another shape.
    rows = statements.execute(db, ("test_by_ids", 3), _by_ids(first + second[:1]), first + second[:1]).fetchall()
    assert len(rows) == 3


def test_values_in_another_order_than_the_statement_binds_are_refused_at_the_first_call(db, candidates):
    statements.forget()
    ids = [c.id for c in candidates]
    build = lambda: m.Candidate.select().where(m.Candidate.id.in_(ids) & (m.Candidate.name != "x"))  # noqa: E731
    with pytest.raises(statements.ShapeMismatch, match="not the ones it binds"):
        statements.execute(db, ("test_order",), build, ["x", *ids])
    # Nothing was kept for the refused call: the right order renders and runs.
    assert len(statements.execute(db, ("test_order",), build, [*ids, "x"]).fetchall()) == 4


def test_models_converts_columns_like_a_select(db, candidates):
    statements.forget()
    ids = [candidates[0].id]
    found = statements.models(m.Candidate, ("test_models", 1), lambda: m.Candidate.select().where(m.Candidate.id.in_(ids)), ids)
    assert len(found) == 1 and isinstance(found[0], m.Candidate)
    assert found[0].created_at == candidates[0].created_at  # a datetime again, not the stored text
    assert found[0].organisation_id == candidates[0].organisation_id


def test_api_tokens_resolve_through_the_kept_statement_and_revocation_still_applies(db, make_user):
    statements.forget()
    user = make_user("tokens_hr", roles=("hr",))
    row, token = create_api_token(user, "integration")
    for _ in range(2):  # rendered, then kept
        found = accounts.user_for_api_token(token)
        assert found.id == user.id and found.roles == {"hr"}
        assert "token_id" not in found.__dict__ and "token_last_used_at" not in found.__dict__
    assert m.ApiToken.get_by_id(row.id).last_used_at is not None
    m.ApiToken.update(revoked_at=m.utcnow()).where(m.ApiToken.id == row.id).execute()
    assert accounts.user_for_api_token(token) is None
    assert accounts.user_for_api_token(token[:-1] + ("a" if token[-1] != "a" else "b")) is None
