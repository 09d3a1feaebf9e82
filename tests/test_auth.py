"""Sign-in, CSRF, server-side session revocation, rate limit and the first-start bootstrap."""

from conftest import PASSWORD, csrf_token_from

from talentreel.server import models as m
from talentreel.server.accounts import set_active
from talentreel.server.auth.sessions import COOKIE_NAME


def test_login_and_logout(client, make_user, login):
    user = make_user("alice", roles=("hr",))
    assert client.get("/").status_code == 302
    login(user)
    page = client.get("/")
    assert page.status_code == 200
    assert "alice" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_password_is_stored_as_argon2id(make_user):
    user = make_user("bob")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_wrong_password_and_unknown_user_read_the_same(client, make_user, login):
    make_user("carol")
    wrong = login(m.User.get(username="carol"), password="nope nope nope", expect_ok=False)
    unknown = login(type("U", (), {"username": "nobody"})(), expect_ok=False)
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid username or password" in wrong.get_data(as_text=True)
    assert "Invalid username or password" in unknown.get_data(as_text=True)


def test_form_without_csrf_token_is_refused(client, make_user):
    make_user("dave")
    response = client.post("/login", data={"username": "dave", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not signed in


def test_logout_needs_csrf(client, make_user, login):
    login(make_user("erin"))
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_new_session_id_at_login(client, make_user, login):
    user = make_user("frank")
    login(user)
    first = client.get_cookie(COOKIE_NAME).value
    client.get_cookie  # noqa: B018
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    login(user)
    assert client.get_cookie(COOKIE_NAME).value != first


def test_disabling_user_kills_session_at_once(client, make_user, login):
    user = make_user("gina")
    login(user)
    assert client.get("/").status_code == 200
    set_active(user, False)
    assert client.get("/").status_code == 302


def test_revoked_session_cookie_is_dead(client, make_user, login, app):
    user = make_user("hank")
    login(user)
    cookie = client.get_cookie(COOKIE_NAME).value
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    other = app.test_client()
    other.set_cookie(COOKIE_NAME, cookie)
    assert other.get("/").status_code == 302


def test_login_rate_limit(client, make_user, login, app):
    user = make_user("ivan")
    limit = app.extensions["talentreel"].settings["login_max_failures"]
    for _ in range(limit):
        assert login(user, password="wrong password!", expect_ok=False).status_code == 401
    # Even the right password is refused while limited, and the reply does not say whether it was right.
    response = login(user, expect_ok=False)
    assert response.status_code == 429
    unknown = login(type("U", (), {"username": "ghost"})(), expect_ok=False)
    assert unknown.status_code == 401  # the limit is per account (and per address, with more room)


def test_open_redirect_after_login_is_refused(client, make_user):
    make_user("judy")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=https://evil.example/", data={"username": "judy", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
