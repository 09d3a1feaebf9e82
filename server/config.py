"""Settings: defaults < config file < environment (TALENTREEL_*) < explicit overrides.

Every setting is declared once in SETTINGS with its type, default and a one-line description; the
README's configuration table is checked against this list by a test, so a new setting cannot go
undocumented. Values are validated as they are read: a bad value raises ConfigError naming the key,
where it came from and the form expected. The result is a frozen mapping.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import defaults
from .errors import ConfigError

ENV_PREFIX = "TALENTREEL_"

# Conventional variable names that deployments (docker, PaaS) set; read after the TALENTREEL_* ones.
ENV_ALIASES = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # str | int | bool | list | choice | path | url
    default: Any | Callable[[dict], Any]
    doc: str
    choices: tuple = ()
    minimum: int | None = None
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _data_path(*parts):
    return lambda values: str(Path(values["data_dir"], *parts))


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "path", defaults.DATA_DIR, "Directory holding the embedded database, objects, keys and run files."),
    Setting("mode", "choice", "embedded", "`embedded` (one machine, generated secrets allowed) or `production` (secrets must be set).", choices=("embedded", "production")),
    Setting("secret_key", "str", None, "Key signing sessions and CSRF tokens; at least 32 characters. Embedded mode generates one into the data directory.", secret=True),
    Setting("database_url", "url", lambda v: "sqlite:///" + str(Path(v["data_dir"], defaults.DATABASE_FILENAME)), "Database: `sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB`. Also read from `DATABASE_URL`."),
    Setting("redis_url", "str", "", "Redis for the job queues, e.g. `redis://127.0.0.1:6379/0`. Empty: the embedded Redis started by `talentreel up`. Also read from `REDIS_URL`."),
    Setting("plugins", "list", (), "Extra plugin modules to load (comma-separated in the environment); each must be importable or start-up stops."),
    Setting("disabled_plugins", "list", (), "Plugin names not to load, built-in or installed."),
    Setting("storage_backend", "str", "local", "Name of the storage backend plugin holding recordings and reports' media."),
    Setting("storage_path", "path", _data_path("objects"), "Root directory of the `local` storage backend."),
    Setting("storage_cold_path", "str", "", "Second root of the `local` backend for the cold tier (e.g. a larger, cheaper mount); empty: no cold tier."),
    Setting("retention_days_after_close", "int", 0, "Erase candidates this many days after the last opening they applied to closed, unless they joined the talent pool or are under legal hold; 0: keep. An organisation's own rule (`talentreel retention set`) wins.", minimum=0),
    Setting("cold_after_days", "int", 0, "Move recordings nobody played for this many days to the cold tier; 0: never.", minimum=0),
    Setting("s3_endpoint_url", "str", "", "URL of an S3-compatible store (e.g. `http://minio:9000`); empty for AWS S3. Also switches to path-style addressing."),
    Setting("s3_bucket", "str", "", "Bucket holding the objects (required when `storage_backend` is `s3`); it must already exist."),
    Setting("s3_region", "str", "", "Region to sign requests for; empty uses the AWS chain, else `us-east-1`."),
    Setting("s3_access_key", "str", "", "Access key id; empty uses the AWS credential chain (`AWS_ACCESS_KEY_ID`, `~/.aws`, instance role)."),
    Setting("s3_secret_key", "str", "", "Secret access key; set together with `s3_access_key`.", secret=True),
    Setting("s3_prefix", "str", "", "Key prefix inside the bucket, e.g. `talentreel`, to share a bucket."),
    Setting("s3_cold_storage_class", "str", "STANDARD_IA", "Storage class of the cold tier; must be instantly readable (`STANDARD_IA`, `ONEZONE_IA`, `GLACIER_IR`)."),
    Setting("backup_backend", "str", "local", "Storage backend plugin holding backups, the offsite copy (`local` or `s3`); see docs/backup.md."),
    Setting("backup_path", "str", "", "Root directory of a `local` backup target; it must already exist (an unmounted disk is refused). Empty: no backup target."),
    Setting("backup_s3_bucket", "str", "", "Bucket of an `s3` backup target (endpoint and credentials as for `s3_*`); it must already exist."),
    Setting("backup_s3_prefix", "str", "", "Key prefix inside the backup bucket."),
    Setting("backup_key", "str", "", "Backup key: base64 of 32 random bytes. It encrypts the database dump and the key-encryption keys inside every backup; keep a copy away from the machine.", secret=True),
    Setting("backup_key_file", "path", _data_path("keys", "backup.key"), "File holding the backup key when `backup_key` is empty; embedded mode creates it on the first backup."),
    Setting("backup_keep_daily", "int", 7, "Backups kept by retention: the newest of each of this many days.", minimum=1),
    Setting("backup_keep_weekly", "int", 4, "Also kept: the newest backup of each of this many ISO weeks.", minimum=0),
    Setting("analysis_language", "str", "en", "Language of interviews for speech-to-text and keywords (`en`, `zh`, ...)."),
    Setting("stt_engine", "str", "auto", "Speech-to-text engine: `auto` uses `vosk` when `vosk_model_path` is set, else `pocketsphinx`; or name an engine."),
    Setting("vosk_model_path", "str", "", "Directory of a Vosk model (any language) for speech-to-text; checked when a worker starts. Empty: pocketsphinx's built-in US-English model."),
    Setting("analysis_processes", "int", 0, "Processes one analysis job decodes speech in at once (utterances are shared out); 0: one per CPU core.", minimum=0),
    Setting("vision_fps", "int", 2, "Frames per second the vision analyzer samples; more catches shorter events and costs proportionally more CPU.", minimum=1),
    Setting("taxonomy_path", "str", "", "TOML file of competencies and their evidence phrases per language (HR can edit it); empty: the built-in default."),
    Setting("host", "str", defaults.HOST, "Address the web server binds to."),
    Setting("port", "int", defaults.PORT, "Port the web server listens on.", minimum=1),
    Setting("web_workers", "int", 2, "gunicorn worker processes for `talentreel web`.", minimum=1),
    Setting("pool_memory_index", "bool", True, "Web workers keep the talent pool's candidate tags in memory (16 bytes per candidate tag, per worker) and answer tag searches from it; off: every search runs in the database."),
    Setting("media_url", "str", "", "Public base URL of the media server (`talentreel media-server`) that players fetch recordings from, e.g. `https://media.example.com` or `http://{host}:8471` (`{host}`: the host name the browser used for the web UI). Empty: the web server serves media itself (simpler, slower). `talentreel up` runs a media server and sets this."),
    Setting("media_host", "str", lambda v: v["host"], "Address `talentreel media-server` binds to (default: `host`)."),
    Setting("media_port", "int", lambda v: v["port"] + 1, "Port `talentreel media-server` listens on (default: `port` + 1).", minimum=1),
    Setting("media_workers", "int", 2, "Processes of `talentreel media-server` (each an event loop; one per core is plenty).", minimum=1),
    Setting("default_locale", "choice", defaults.DEFAULT_LOCALE, "Locale when neither the user's setting nor the browser names a supported one.", choices=defaults.LOCALES),
    Setting("session_lifetime_hours", "int", defaults.SESSION_LIFETIME_HOURS, "Hours an idle web session stays valid.", minimum=1),
    Setting("login_max_failures", "int", defaults.LOGIN_MAX_FAILURES, "Failed sign-ins per account or address within the window before sign-in is refused.", minimum=1),
    Setting("login_window_seconds", "int", defaults.LOGIN_WINDOW_SECONDS, "Window of the sign-in rate limit, in seconds.", minimum=1),
    Setting("max_upload_bytes", "int", defaults.MAX_UPLOAD_BYTES, "Largest recording accepted, in bytes.", minimum=1),
    Setting("max_duration_seconds", "int", defaults.MAX_DURATION_SECONDS, "Longest recording accepted, in seconds.", minimum=1),
    Setting("job_timeout_seconds", "int", defaults.JOB_TIMEOUT_SECONDS, "Time limit of one background job.", minimum=1),
    Setting("cookie_secure", "bool", None, "Send cookies only over HTTPS. Default: on in production mode, off in embedded mode."),
    Setting("metrics_token", "str", "", "Bearer token that lets Prometheus scrape `/metrics` from another host; empty: only this machine (loopback, not via a proxy) and signed-in IT admins may.", secret=True),
    Setting("trust_proxy", "bool", False, "Trust one reverse proxy's X-Forwarded-For / -Proto headers."),
    Setting("log_level", "choice", "INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)

BY_NAME = {s.name: s for s in SETTINGS}


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    """Turn a raw value (TOML value or environment string) into the setting's type."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"setting '{setting.name}' from {source}: expected {expected}, got {raw!r}")

    if raw is None:
        return None
    kind = setting.kind
    if kind in ("str", "path"):
        if not isinstance(raw, str):
            raise bad("a string")
        return raw
    if kind == "int":
        if isinstance(raw, bool):
            raise bad("a whole number")
        if isinstance(raw, str):
            if not re.fullmatch(r"\s*-?\d+\s*", raw):
                raise bad("a whole number")
            raw = int(raw)
        if not isinstance(raw, int):
            raise bad("a whole number")
        if setting.minimum is not None and raw < setting.minimum:
            raise bad(f"a whole number >= {setting.minimum}")
        return raw
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        raise bad("true or false")
    if kind == "list":
        if isinstance(raw, str):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        if isinstance(raw, (list, tuple)) and all(isinstance(p, str) for p in raw):
            return tuple(raw)
        raise bad("a list of names")
    if kind == "choice":
        if raw not in setting.choices:
            raise bad("one of " + ", ".join(setting.choices))
        return raw
    if kind == "url":
        if not isinstance(raw, str) or not re.match(r"^(sqlite|postgres|postgresql)://", raw):
            raise bad("a database URL starting with sqlite:/// or postgresql://")
        return raw
    raise AssertionError(kind)


def _read_file(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    """Resolve every setting; return a read-only mapping.

    overrides: values given in code (create_app(config=...), CLI flags); they win over everything.
    environ: the environment to read (os.environ by default).
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")

    raw: dict[str, tuple[Any, str]] = {}
    # data_dir first: it locates the config file.
    data_dir = overrides.get("data_dir") or environ.get(BY_NAME["data_dir"].env) or defaults.DATA_DIR
    config_file = environ.get(ENV_PREFIX + "CONFIG") or str(Path(data_dir, defaults.CONFIG_FILENAME))
    if environ.get(ENV_PREFIX + "CONFIG") or Path(config_file).is_file():
        for key, value in _read_file(Path(config_file)).items():
            raw[key] = (value, f"config file {config_file}")
    for setting in SETTINGS:
        if setting.env in environ:
            raw[setting.name] = (environ[setting.env], f"environment variable {setting.env}")
        elif setting.name in ENV_ALIASES and ENV_ALIASES[setting.name] in environ:
            alias = ENV_ALIASES[setting.name]
            raw[setting.name] = (environ[alias], f"environment variable {alias}")
    for key, value in overrides.items():
        raw[key] = (value, "the application's configuration")

    values: dict[str, Any] = {}
    for setting in SETTINGS:  # declaration order: later defaults may derive from earlier values
        if setting.name in raw:
            value, source = raw[setting.name]
            values[setting.name] = _convert(setting, value, source)
        else:
            default = setting.default
            values[setting.name] = default(values) if callable(default) else default
    values["data_dir"] = str(Path(values["data_dir"]).resolve())
    if values["cookie_secure"] is None:
        values["cookie_secure"] = values["mode"] == "production"
    values["secret_key"] = _secret_key(values)
    return MappingProxyType(values)


def _secret_key(values: dict) -> str:
    key = values["secret_key"]
    if key:
        if len(key) < 32:
            raise ConfigError("setting 'secret_key': expected at least 32 characters")
        return key
    if values["mode"] == "production":
        raise ConfigError(
            "setting 'secret_key' is missing: production mode refuses to start without one "
            f"(set {BY_NAME['secret_key'].env}, e.g. to the output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    # Embedded mode: one key per data directory, created on first run and kept private.
    path = Path(values["data_dir"], defaults.SECRET_KEY_FILENAME)
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this instance won the race
        return path.read_text().strip()
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    return key


def describe() -> list[dict]:
    """The settings table (for `talentreel config --json` and the README check)."""
    rows = []
    for s in SETTINGS:
        default = s.default
        if callable(default):
            default = "(derived from data_dir)"
        rows.append({"name": s.name, "env": s.env, "type": s.kind, "default": default, "doc": s.doc})
    return rows
