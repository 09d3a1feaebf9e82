"""The plugin system: hookspecs documented and exercised, built-in and entry-point plugins, config errors."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import recorded_sql
from talentreel.server import hookspecs, models as m
from talentreel.server.errors import PluginError
from talentreel.server.permissions import can
from talentreel.server.plugins import BUILTIN_PLUGINS, describe_plugins, merged_by_name

HERE = Path(__file__).parent
HOOK_NAMES = sorted(name for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("talentreel_"))


@pytest.fixture(scope="module")
def example_plugin_dir(tmp_path_factory):
    """Pip-install the example plugin package into a private directory and put it on sys.path,
    so its entry point is found the way an installed third-party plugin's would be. Module-scoped:
    it leaves sys.path after this file, so other test files never see its deny rule."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(HERE / "plugin_package")],
        check=True,
    )
    sys.path.insert(0, str(target))
    import importlib

    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("talentreel_example_plugin", None)


@pytest.fixture
def app_with_plugin(example_plugin_dir, settings):
    from talentreel.server import create_app

    return create_app(dict(settings))


# --- documentation ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_hookspec_is_documented(name):
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    for param in inspect.signature(spec).parameters:
        assert f":param {param}:" in doc, f"{name}: argument {param} is not documented"
    assert ":returns:" in doc, f"{name}: return value not documented"
    assert "Combining:" in doc, f"{name}: how results combine is not documented"


def test_every_hookspec_is_exercised():
    tested = {name[len("test_hook_"):] for name in globals() if name.startswith("test_hook_")}
    assert tested == set(HOOK_NAMES)


def test_every_hook_is_documented_in_the_plugin_guide():
    guide = (HERE.parent / "docs" / "plugins.md").read_text()
    for name in HOOK_NAMES:
        assert name in guide, f"docs/plugins.md does not describe {name}"


# --- loading ------------------------------------------------------------------------------------


def test_builtin_plugins_load_like_any_other(app):
    rows = {r["name"]: r for r in describe_plugins(app.extensions["talentreel"].plugins)}
    for path in BUILTIN_PLUGINS:
        name = path.rsplit(".", 1)[-1]
        assert rows[name]["source"] == "builtin"
        assert rows[name]["hooks"]


def test_entry_point_plugin_is_loaded(app_with_plugin):
    rows = {r["name"]: r for r in describe_plugins(app_with_plugin.extensions["talentreel"].plugins)}
    assert rows["example"]["source"] == "entry-point"
    assert rows["example"]["version"] == "1.2.3"
    assert len(rows["example"]["hooks"]) == len(HOOK_NAMES)


def test_plugins_json_lists_name_version_hooks(app_with_plugin, make_user):
    from conftest import PASSWORD, csrf_token_from

    admin = make_user("plugins_admin", roles=("it_admin",))
    client = app_with_plugin.test_client()
    assert client.get("/-/plugins.json").status_code == 302  # to the sign-in page
    page = client.get("/login")
    client.post("/login", data={"username": admin.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    rows = client.get("/-/plugins.json").get_json()
    example = next(r for r in rows if r["name"] == "example")
    assert example["version"] == "1.2.3" and "talentreel_startup" in example["hooks"]


def test_cli_plugins_lists_the_same(example_plugin_dir, settings, tmp_path):
    import os

    pythonpath = os.pathsep.join(p for p in (str(example_plugin_dir), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=pythonpath, TALENTREEL_DATABASE_URL=settings["database_url"])
    out = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", settings["data_dir"], "plugins", "--json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    import json

    names = {r["name"]: r for r in json.loads(out)}
    assert {"policy", "storage_local", "example"} <= set(names)


def test_configured_plugin_that_is_not_installed_stops_startup(settings):
    from talentreel.server import create_app

    with pytest.raises(PluginError, match="talentreel_no_such_plugin.*not installed"):
        create_app(dict(settings, plugins=["talentreel_no_such_plugin"]))


def test_configured_plugin_module_is_loaded(settings):
    from talentreel.server import create_app

    app = create_app(dict(settings, plugins=["tests_local_plugin"]))
    rows = {r["name"]: r for r in describe_plugins(app.extensions["talentreel"].plugins)}
    assert rows["tests_local_plugin"]["source"] == "setting"


def test_disabled_plugin_is_not_loaded(example_plugin_dir, settings):
    from talentreel.server import create_app

    app = create_app(dict(settings, disabled_plugins=["example"]))
    assert "example" not in {r["name"] for r in describe_plugins(app.extensions["talentreel"].plugins)}


def test_plugin_manager_belongs_to_the_app(settings, tmp_path):
    from talentreel.server import create_app

    first = create_app(dict(settings))
    second = create_app(dict(settings, disabled_plugins=["policy"]))
    assert first.extensions["talentreel"].plugins is not second.extensions["talentreel"].plugins
    assert first.extensions["talentreel"].plugins.has_plugin("policy")
    assert not second.extensions["talentreel"].plugins.has_plugin("policy")


def test_duplicate_names_name_both_plugins(app):
    pm = app.extensions["talentreel"].plugins

    class Clash:
        @staticmethod
        @__import__("talentreel.server", fromlist=["hookimpl"]).hookimpl
        def talentreel_storage_backends():
            return {"local": lambda settings: None}

    pm.register(Clash, name="clash")
    with pytest.raises(PluginError, match="'local' is offered by both plugin '.*' and plugin '.*'"):
        merged_by_name(pm, "talentreel_storage_backends")


# --- each hook, exercised ---------------------------------------------------------------------


def test_hook_talentreel_startup(app_with_plugin):
    assert app_with_plugin.test_client().get("/-/example").get_json() == {"plugin": "example", "version": "1.2.3"}


def test_hook_talentreel_storage_backends(app_with_plugin, app):
    backends = merged_by_name(app_with_plugin.extensions["talentreel"].plugins, "talentreel_storage_backends")
    assert {"local", "memory"} <= set(backends)
    import io

    storage = app.extensions["talentreel"].storage  # the configured default, `local`
    storage.put("recordings/1/original", io.BytesIO(b"abc"))
    assert storage.open("recordings/1/original").read() == b"abc"
    with pytest.raises(ValueError):
        storage.put("../escape", io.BytesIO(b"x"))


def test_hook_talentreel_analyzers(app_with_plugin):
    analyzers = merged_by_name(app_with_plugin.extensions["talentreel"].plugins, "talentreel_analyzers")
    assert analyzers["example-word-count"]["version"] == "1.0"
    module, _, func = analyzers["example-word-count"]["run"].partition(":")
    assert getattr(__import__(module), func)("one two three") == {"words": 3}


def test_hook_talentreel_taggers(app_with_plugin):
    taggers = merged_by_name(app_with_plugin.extensions["talentreel"].plugins, "talentreel_taggers")
    assert taggers["example-tagger"]["plugin"] == "example"


def test_hook_talentreel_permission(app_with_plugin, make_user):
    hr = make_user("hr1", roles=("hr",))
    candidate = m.Candidate.create(organisation=hr.organisation, name="A")
    with app_with_plugin.app_context():
        assert can(hr, "candidate.view", candidate)
        # The plugin denies deletion; any deny wins over the default policy's allow.
        assert not can(hr, "candidate.delete", candidate)


def test_hook_talentreel_permission_prefetch(app, make_user):
    from talentreel.server.permissions import visible
    from talentreel.server.plugins import hookimpl

    class Blocklist:  # reads its list once per batch, then answers each row from it
        def __init__(self):
            self.batches = []

        @hookimpl
        def talentreel_permission_prefetch(self, user, action, objs):
            self.batches.append((action, [o.id for o in objs]))
            user.access_cache()["blocklist"] = {o.id for o in objs if o.name.startswith("Blocked")}

        @hookimpl
        def talentreel_permission(self, user, action, obj):
            if not isinstance(obj, m.Candidate):
                return None
            cache = user.access_cache()
            if cache is not None and "blocklist" in cache:
                return False if obj.id in cache["blocklist"] else None
            return False if obj.name.startswith("Blocked") else None  # outside a batch: read per object

    plugin = Blocklist()
    app.extensions["talentreel"].plugins.register(plugin)
    from talentreel.server.accounts import default_organisation

    org = default_organisation()
    dept = m.Department.create(organisation=org, name="Sales")
    other = m.Department.create(organisation=org, name="Tech")
    sales, tech = (m.Opening.create(organisation=org, department=d, title=d.name) for d in (dept, other))
    head = make_user("batch_head", roles=("dept_head",), departments=[dept])
    rows = []
    for i in range(6):
        c = m.Candidate.create(organisation=org, name=("Blocked " if i == 0 else "Open ") + str(i))
        m.Application.create(candidate=c, opening=sales if i % 2 == 0 else tech)
        rows.append(c)
    granted = rows[3]  # a Tech applicant, reached by a grant only
    grant = m.Grant.create(user=head, candidate=granted, permission="view", granted_by=None)
    with app.test_request_context():
        one_by_one = [c.id for c in rows if can(head, "candidate.view", c)]
        m.Grant.update(last_used_at=None).where(m.Grant.id == grant.id).execute()
        with recorded_sql(m.Candidate._meta.database) as statements:
            batched = [c.id for c in visible(head, "candidate.view", rows)]
    # Same answers as one check per row, the plugin's deny included (it works from its prefetch).
    assert batched == one_by_one == [rows[2].id, granted.id, rows[4].id]
    assert plugin.batches == [("candidate.view", [c.id for c in rows])]
    # Reads per batch, not per row: roles, departments, two reach queries, grants.
    assert sum(sql.lstrip().upper().startswith("SELECT") for sql in statements) <= 6, statements
    assert m.Grant.get_by_id(grant.id).last_used_at is not None  # the access review still sees it used


def test_hook_talentreel_candidate_erased(app, make_user):
    from talentreel.server.erasure import erase_candidate
    from talentreel.server.plugins import hookimpl

    forgotten = []

    class SearchIndex:  # what a search or cache plugin does: drop its entries of the candidate
        @hookimpl
        def talentreel_candidate_erased(self, candidate_id):
            assert m.Candidate.get_or_none(m.Candidate.id == candidate_id) is not None  # rows still there
            forgotten.append(candidate_id)

    app.extensions["talentreel"].plugins.register(SearchIndex())
    hr = make_user("hr_eraser", roles=("hr",))
    candidate = m.Candidate.create(organisation=hr.organisation, name="To Forget")
    with app.test_request_context():
        erase_candidate(candidate, hr)
    assert forgotten == [candidate.id]
    assert m.Candidate.get_or_none(m.Candidate.id == candidate.id) is None


def test_hook_talentreel_migrators(app_with_plugin):
    migrators = merged_by_name(app_with_plugin.extensions["talentreel"].plugins, "talentreel_migrators", key="kind")
    assert migrators["example-csv"]["reader"] == "talentreel_example_plugin:Reader"
