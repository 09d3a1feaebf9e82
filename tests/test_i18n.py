"""Translations: the catalogues are complete and in sync with the source, and pages follow the
user's setting, then the language cookie, then Accept-Language."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from conftest import ROOT

TRANSLATIONS = ROOT / "server" / "translations"
POT = TRANSLATIONS / "messages.pot"
ZH_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
ZH_MO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"
HOW = "see docs/translating.md"


def read_catalogue(path, locale=None):
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def key(value):
    """A message id or string as something hashable and comparable: plural (ngettext) messages
    come as lists from a compiled catalogue and as tuples from a .po file."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def msgids(catalogue) -> set:
    return {key(msg.id) for msg in catalogue if msg.id}


def translated(msg) -> bool:
    # A plural message (ngettext) has a tuple of forms; Chinese has one, every form must be there.
    forms = msg.string if isinstance(msg.string, (tuple, list)) else (msg.string,)
    return bool(forms) and all(forms)


# --- the catalogues ---------------------------------------------------------------------------


def test_every_message_has_a_chinese_translation():
    template = read_catalogue(POT)
    chinese = read_catalogue(ZH_PO, "zh_Hans_CN")
    missing = sorted(map(str, msgids(template) - {key(msg.id) for msg in chinese if msg.id and translated(msg)}))
    assert not missing, f"untranslated in {ZH_PO.name} ({HOW}): {missing}"
    fuzzy = sorted(str(msg.id) for msg in chinese if msg.id and msg.fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy}"
    problems = [(msg.id, [str(e) for e in errors]) for msg, errors in chinese.check()]
    assert not problems, f"translations whose placeholders do not match the original: {problems}"


def test_compiled_catalogue_matches_the_po_file():
    chinese = read_catalogue(ZH_PO, "zh_Hans_CN")
    compiled_now = io.BytesIO()
    write_mo(compiled_now, chinese)
    compiled_now.seek(0)
    with open(ZH_MO, "rb") as f:
        shipped = read_mo(f)
    expected = {key(msg.id): key(msg.string) for msg in read_mo(compiled_now) if msg.id}
    actual = {key(msg.id): key(msg.string) for msg in shipped if msg.id}
    assert actual == expected, f"{ZH_MO.name} is stale: run pybabel compile ({HOW})"


def test_template_catalogue_matches_the_source(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    in_source, in_pot = msgids(read_catalogue(fresh)), msgids(read_catalogue(POT))
    assert in_source == in_pot, (
        f"messages.pot is stale ({HOW}); new in the source: {sorted(map(str, in_source - in_pot))}, "
        f"gone from the source: {sorted(map(str, in_pot - in_source))}"
    )


# --- choosing the language --------------------------------------------------------------------


@pytest.fixture
def hr(make_user):
    return make_user("hana", roles=("hr",), display_name="Hana")


def page(client, path, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_accept_language_chooses_for_visitors(client):
    chinese = page(client, "/login", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in chinese and "<h1>登录</h1>" in chinese and "用户名" in chinese
    english = page(client, "/login", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english and "<h1>Sign in</h1>" in english
    assert "<h1>登录</h1>" in page(client, "/login", **{"Accept-Language": "zh"})


def test_the_language_cookie_wins_over_the_browser(client):
    client.set_cookie("talentreel_locale", "zh_CN")
    assert "<h1>登录</h1>" in page(client, "/login", **{"Accept-Language": "en"})
    client.set_cookie("talentreel_locale", "en")
    assert "<h1>Sign in</h1>" in page(client, "/login", **{"Accept-Language": "zh-CN"})


def test_the_switch_marks_the_current_language(client):
    chinese = page(client, "/login", **{"Accept-Language": "zh-CN"})
    assert 'value="zh_CN" class="link current"' in chinese and 'value="en" class="link"' in chinese


def test_accept_language_chooses_for_signed_in_users(client, login, hr):
    login(hr)
    chinese = page(client, "/candidates", **{"Accept-Language": "zh-CN"})
    assert "<h1>候选人</h1>" in chinese and "工作台" in chinese and "退出登录" in chinese
    english = page(client, "/candidates", **{"Accept-Language": "en"})
    assert "<h1>Candidates</h1>" in english and "Dashboard" in english


def test_the_users_setting_wins_over_the_browser(client, login, make_user):
    user = make_user("zhou", roles=("hr",), display_name="周", locale="zh_CN")
    login(user)
    dashboard = page(client, "/", **{"Accept-Language": "en-US,en;q=1"})
    assert "欢迎，周" in dashboard and "Welcome" not in dashboard
    assert "<h1>职位</h1>" in page(client, "/openings", **{"Accept-Language": "en"})


def test_the_language_switch_saves_the_choice(client, login, hr):
    from conftest import csrf_token_from

    from talentreel.server import models as m

    login(hr)
    token = csrf_token_from(page(client, "/interviews"))
    response = client.post("/locale", data={"locale": "zh_CN", "next": "/interviews", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/interviews"
    assert "<h1>面试</h1>" in page(client, "/interviews", **{"Accept-Language": "en"})
    assert m.User.get_by_id(hr.id).locale == "zh_CN"


def test_python_strings_are_translated_too(client, login, hr):
    """Status labels (lazy_gettext at import) and form messages (gettext in the request)."""
    from conftest import csrf_token_from

    from talentreel.server import models as m
    from talentreel.server.accounts import default_organisation

    org = default_organisation()
    dept = m.Department.create(organisation=org, name="研发部")
    m.Opening.create(organisation=org, department=dept, title="测试工程师")
    login(hr)
    zh = {"Accept-Language": "zh-CN"}
    assert "招聘中" in page(client, "/openings", **zh)
    token = csrf_token_from(page(client, "/candidates/new", **zh))
    response = client.post("/candidates/new", data={"name": "", "email": "x", "csrf_token": token}, headers=zh)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "请输入候选人姓名。" in body and "这不是有效的电子邮箱地址" in body


def test_error_pages_are_translated(client, login, hr):
    login(hr)
    response = client.get("/candidates/424242", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 404 and "未找到。" in response.get_data(as_text=True)
