"""The web UI in a real headless Chromium: sign in, dashboard, candidates, switch to Chinese, on a
laptop-sized and a phone-sized screen. Screenshots land in test-artifacts/ for a human to look at.

Needs Debian's Chromium at /usr/bin/chromium: conftest's `chromium_executable` installs Debian's
package when it is missing and the tests run as root; otherwise the test fails and says so, it does
not skip: a skipped browser test looks like a passing one in CI.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import PASSWORD, ROOT
from werkzeug.serving import make_server

from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.auth import passwords

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def hr_user(db, make_user, monkeypatch):
    """An HR user and a small, realistic organisation to look at."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    org = default_organisation()
    eng = m.Department.create(organisation=org, name="研发中心")
    sales = m.Department.create(organisation=org, name="Sales")
    backend = m.Opening.create(organisation=org, department=eng, title="高级后端工程师")
    account = m.Opening.create(organisation=org, department=sales, title="Key account manager")
    interviewer = make_user("liwei", roles=("interviewer",), display_name="李伟")
    people = [
        ("张伟", "zhang.wei@example.cn", "+86 138 0013 8000", backend),
        ("Emily Carter", "emily.carter@example.com", "+1 415 555 0132", account),
        ("王芳", "wang.fang@example.cn", "+86 139 1234 5678", backend),
        ("Oliver Schmidt-Hansen", "oliver.schmidt-hansen@example.de", None, account),
    ]
    now = m.utcnow()
    for n, (name, email, phone, opening) in enumerate(people):
        candidate = m.Candidate.create(organisation=org, name=name, email=email, phone=phone)
        m.Application.create(candidate=candidate, opening=opening)
        interview = m.Interview.create(candidate=candidate, opening=opening, scheduled_at=now + dt.timedelta(days=n + 1, hours=2),
                                       questions=["请介绍一个你主导的项目。", "What would you improve first?"])
        m.InterviewInterviewer.create(interview=interview, user=interviewer)
        m.Recording.create(candidate=candidate, interview=interview, original_name=f"round-1-{n + 1}.webm",
                           state=("ready", "processing", "failed", "uploaded")[n], size_bytes=48_200_000 * (n + 1),
                           duration_seconds=1500 + 97 * n, error="decoder: invalid data in stream 0" if n == 2 else None)
    return make_user("hana", roles=("hr",), display_name="Hana Wong")


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def chromium(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A page plus what went wrong on it: console errors other than a page's own status (a
    refused form answers 400 on purpose; a CSP violation is logged as an error), script errors
    and assets (CSS, icons) that failed to load."""

    def __init__(self, browser, base: str, viewport: dict, locale: str, **options):
        self.context = browser.new_context(viewport=viewport, locale=locale, **options)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))
        self.page.on("response", self._response)

    def _console(self, msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def _response(self, response):
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} for {response.url}")

    def open(self, path: str):
        self.page.goto(self.base + path)

    def sign_in(self, username: str, shot: str | None = None):
        self.open("/")
        assert self.page.url.startswith(self.base + "/login")
        if shot:
            self.shot(shot)
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        with self.page.expect_navigation(url=self.base + "/"):
            self.page.click("main form button[type=submit]")

    def shot(self, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


def test_hr_signs_in_browses_and_switches_to_chinese(chromium, live_server, hr_user):
    laptop = Tab(chromium, live_server, DESKTOP, "en-US")
    page = laptop.page
    laptop.sign_in(hr_user.username)
    assert page.locator("h1").inner_text() == "Welcome, Hana Wong"
    assert page.locator(".tile .num").first.inner_text() == "4"
    laptop.shot("desktop-dashboard-en")

    page.click("nav.mainnav >> text=Candidates")
    page.wait_for_url(live_server + "/candidates")
    assert page.locator("table.responsive tbody tr").count() == 4
    assert page.locator("table.responsive thead").is_visible()
    laptop.shot("desktop-candidates-en")

    with page.expect_navigation():
        page.click("footer button[lang=zh-CN]")
    assert page.url == live_server + "/candidates"
    assert page.locator("h1").inner_text() == "候选人"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "工作台" in page.locator("nav.mainnav").inner_text()
    laptop.shot("desktop-candidates-zh")

    with page.expect_navigation():
        page.click("text=张伟")
    assert page.locator("h1").inner_text() == "张伟"
    assert "可播放" in page.locator("text=round-1-1.webm >> xpath=ancestor::tr").inner_text()
    laptop.shot("desktop-candidate-zh")

    laptop.open("/openings")
    assert page.locator("h1").inner_text() == "职位"
    laptop.shot("desktop-openings-zh")

    laptop.open("/interviews")
    assert page.locator("h1").inner_text() == "面试"
    laptop.shot("desktop-interviews-zh")

    # Server-side validation, with what was typed kept (the e-mail passes the browser's own check).
    laptop.open("/candidates/new")
    page.fill("input[name=name]", "刘洋")
    page.fill("input[name=email]", "liu@corp")
    page.fill("input[name=phone]", "call me")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator(".field-error").count() == 2
    assert page.locator("input[name=name]").input_value() == "刘洋"
    laptop.shot("desktop-candidate-form-errors-zh")
    assert laptop.errors == []
    laptop.close()

    # The saved choice follows the account to another device, whatever that browser prefers.
    phone = Tab(chromium, live_server, PHONE, "en-US", is_mobile=True, has_touch=True, device_scale_factor=2)
    page = phone.page
    phone.sign_in(hr_user.username, shot="phone-login-en")
    assert page.locator("h1").inner_text() == "欢迎，Hana Wong"
    phone.shot("phone-dashboard-zh")
    phone.open("/candidates")
    assert page.locator("table.responsive thead").is_hidden()  # rows read as cards
    assert page.locator("table.responsive tbody tr").count() == 4
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the candidates page scrolls sideways on a phone ({width}px)"
    phone.shot("phone-candidates-zh")
    phone.open("/candidates")
    with page.expect_navigation():
        page.click("text=王芳")
    phone.shot("phone-candidate-zh")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.open("/interviews/new")
    phone.shot("phone-interview-form-zh")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert phone.errors == []
    phone.close()
