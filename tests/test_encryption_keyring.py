"""Key-encryption keys: where they come from, how they are created, wrapping and unwrapping."""

from __future__ import annotations

import base64
import logging
import os
import stat

import pytest

from talentreel.server.encryption import keyring as kr
from talentreel.server.encryption.errors import KeyUnavailable
from talentreel.server.encryption.keyring import Keyring
from talentreel.server.errors import ConfigError

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()


def test_embedded_mode_creates_a_private_key_file_once(tmp_path):
    ring = Keyring.load(tmp_path, mode="embedded", environ={})
    path = tmp_path / "keys" / "kek-1.key"
    assert ring.versions == (1,) and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(path.read_text())) == 32
    version, blob = ring.wrap(b"k" * 32, "candidate-key candidate=1")
    again = Keyring.load(tmp_path, mode="embedded", environ={})
    assert again.versions == (1,) and again.unwrap(version, blob, "candidate-key candidate=1") == b"k" * 32
    assert [p.name for p in path.parent.iterdir()] == ["kek-1.key"]  # no temporary file left


def test_a_key_file_created_concurrently_is_shared(tmp_path):
    first = kr._create_key_file(tmp_path / "keys", 1)
    second = kr._create_key_file(tmp_path / "keys", 1)
    assert first == second


def test_production_mode_needs_a_key_from_the_environment(tmp_path):
    with pytest.raises(ConfigError, match="no key-encryption key: set TALENTREEL_KEK_1"):
        Keyring.load(tmp_path, mode="production", environ={})
    assert not (tmp_path / "keys").exists()
    ring = Keyring.load(tmp_path, mode="production", environ={"TALENTREEL_KEK_1": KEY_B64, "TALENTREEL_KEK_3": base64.b64encode(os.urandom(32)).decode()})
    assert ring.versions == (1, 3) and ring.newest == 3
    assert ring.source(1) == "environment variable TALENTREEL_KEK_1"
    assert not (tmp_path / "keys").exists()
    with pytest.raises(ConfigError, match="add TALENTREEL_KEK_4 to the environment"):
        ring.add_version()


def test_from_settings_follows_the_mode_and_data_directory(tmp_path):
    ring = Keyring.from_settings({"data_dir": str(tmp_path), "mode": "embedded"}, environ={})
    assert ring.key_dir == tmp_path / "keys" and (tmp_path / "keys" / "kek-1.key").is_file()


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_a_malformed_key_names_its_variable_not_its_value(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        Keyring.load(tmp_path, mode="production", environ={"TALENTREEL_KEK_1": value})
    assert "environment variable TALENTREEL_KEK_1: expected base64 of 32 bytes" in str(caught.value)
    if value:
        assert value not in str(caught.value)


def test_the_same_version_from_two_places_must_agree(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "kek-1.key").write_text(KEY_B64 + "\n")
    os.chmod(keys / "kek-1.key", 0o600)
    assert Keyring.load(tmp_path, environ={"TALENTREEL_KEK_1": KEY_B64}).versions == (1,)
    with pytest.raises(ConfigError, match="version 1 is given by both environment variable TALENTREEL_KEK_1 and .*kek-1.key, and they differ"):
        Keyring.load(tmp_path, environ={"TALENTREEL_KEK_1": base64.b64encode(os.urandom(32)).decode()})


def test_a_key_file_others_can_read_is_reported(tmp_path, caplog):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "kek-1.key").write_text(KEY_B64)
    os.chmod(keys / "kek-1.key", 0o644)
    with caplog.at_level(logging.WARNING, logger="talentreel.encryption"):
        Keyring.load(tmp_path, mode="production", environ={})
    assert "readable by other users" in caplog.text


def test_a_new_version_is_seen_by_keyrings_loaded_before_it(tmp_path):
    web = Keyring.load(tmp_path, environ={})
    cli = Keyring.load(tmp_path, environ={})
    assert cli.add_version() == 2
    assert web.newest == 2  # the running web process wraps new keys under the new version
    version, blob = cli.wrap(b"x" * 32, "data-key object=ab")
    assert web.unwrap(version, blob, "data-key object=ab") == b"x" * 32
    assert web.fingerprint(1) != web.fingerprint(2) and web.fingerprint(2) == cli.fingerprint(2)


def test_unwrapping_refuses_the_wrong_subject_version_or_key(tmp_path):
    ring = Keyring({1: KEY, 2: os.urandom(32)})
    version, blob = ring.wrap(b"y" * 32, "candidate-key candidate=5")
    assert version == 2
    with pytest.raises(KeyUnavailable, match="candidate-key candidate=6: does not unwrap with key-encryption key version 2"):
        ring.unwrap(2, blob, "candidate-key candidate=6")  # a wrapped key moved to another row
    with pytest.raises(KeyUnavailable, match="does not unwrap with key-encryption key version 1"):
        ring.unwrap(1, blob, "candidate-key candidate=5")
    with pytest.raises(KeyUnavailable, match="version 7 is not configured \\(set TALENTREEL_KEK_7\\)"):
        ring.unwrap(7, blob, "candidate-key candidate=5")
    with pytest.raises(KeyUnavailable):
        ring.unwrap(2, "%%%not base64", "candidate-key candidate=5")
    with pytest.raises(ConfigError):
        Keyring({})
