"""The web side when the database goes away and comes back: clear 503s, then recovery without restart."""

from __future__ import annotations

import peewee

from conftest import csrf_token_from


def test_database_outage_gives_503_then_recovers(app, client, make_user, login, monkeypatch):
    login(make_user("alice"))
    assert client.get("/").status_code == 200
    database = app.extensions["talentreel"].database
    real_connect = database.connect
    real_execute = database.execute_sql

    def down(*args, **kwargs):
        raise peewee.OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(database, "connect", down)
    monkeypatch.setattr(database, "execute_sql", down)
    page = client.get("/")
    assert page.status_code == 503
    assert "database is unavailable" in page.get_data(as_text=True)
    api = client.get("/-/health")
    assert api.status_code == 503 and api.get_json()["status"] == 503

    monkeypatch.setattr(database, "connect", real_connect)
    monkeypatch.setattr(database, "execute_sql", real_execute)
    assert client.get("/").status_code == 200  # the same session, no restart
    assert client.get("/-/health").get_json() == {"status": "ok"}
