"""Settings: precedence, validation messages, the README's table, secrets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from talentreel.server.config import SETTINGS, load_settings
from talentreel.server.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_precedence_defaults_file_environment_overrides(tmp_path):
    (tmp_path / "talentreel.toml").write_text('port = 9001\nlog_level = "DEBUG"\nweb_workers = 3\n')
    env = {"TALENTREEL_DATA_DIR": str(tmp_path), "TALENTREEL_PORT": "9002", "TALENTREEL_WEB_WORKERS": "4"}
    values = load_settings({"web_workers": 5}, environ=env)
    assert values["log_level"] == "DEBUG"  # file over default
    assert values["port"] == 9002  # environment over file
    assert values["web_workers"] == 5  # code over environment
    assert values["default_locale"] == "en"  # default


def test_settings_are_frozen(tmp_path):
    values = load_settings({"data_dir": str(tmp_path)}, environ={})
    with pytest.raises(TypeError):
        values["port"] = 1


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TALENTREEL_PORT": "eighty"}, r"setting 'port' from environment variable TALENTREEL_PORT: expected a whole number, got 'eighty'"),
        ({"TALENTREEL_PORT": "0"}, r"setting 'port' .* expected a whole number >= 1"),
        ({"TALENTREEL_MODE": "prod"}, r"setting 'mode' .* expected one of embedded, production"),
        ({"TALENTREEL_COOKIE_SECURE": "maybe"}, r"setting 'cookie_secure' .* expected true or false"),
        ({"TALENTREEL_DATABASE_URL": "mysql://x"}, r"setting 'database_url' .* expected a database URL"),
        ({"DATABASE_URL": "oracle://x"}, r"from environment variable DATABASE_URL"),
        ({"TALENTREEL_SECRET_KEY": "short"}, r"setting 'secret_key': expected at least 32 characters"),
        ({"TALENTREEL_MODE": "production"}, r"setting 'secret_key' is missing: production mode refuses to start"),
    ],
)
def test_bad_values_name_the_key_and_the_expected_form(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=dict(env, TALENTREEL_DATA_DIR=str(tmp_path)))


def test_bad_config_file_is_named(tmp_path):
    (tmp_path / "talentreel.toml").write_text("port = [1\n")
    with pytest.raises(ConfigError, match=r"talentreel.toml: not valid TOML"):
        load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})
    (tmp_path / "talentreel.toml").write_text("prot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) prot"):
        load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})


def test_wrong_type_in_config_file(tmp_path):
    (tmp_path / "talentreel.toml").write_text('port = "8080"\nplugins = "a, b"\n')
    values = load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})
    assert values["port"] == 8080 and values["plugins"] == ("a", "b")
    (tmp_path / "talentreel.toml").write_text("web_workers = true\n")
    with pytest.raises(ConfigError, match=r"setting 'web_workers' from config file .*: expected a whole number, got True"):
        load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})


def test_embedded_secret_is_generated_once_and_private(tmp_path):
    first = load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})["secret_key"]
    second = load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path)})["secret_key"]
    assert first == second and len(first) >= 32
    assert oct(os.stat(tmp_path / "secret.key").st_mode & 0o777) == "0o600"


def test_production_mode_takes_a_set_secret(tmp_path):
    values = load_settings(environ={"TALENTREEL_DATA_DIR": str(tmp_path), "TALENTREEL_MODE": "production", "TALENTREEL_SECRET_KEY": "x" * 40})
    assert values["cookie_secure"] is True
    assert not (tmp_path / "secret.key").exists()


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    table = re.findall(r"^\| `([a-z0-9_]+)` \|", readme, flags=re.M)
    assert set(table) == {s.name for s in SETTINGS}, "README's configuration table and config.SETTINGS differ"
