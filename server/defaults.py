"""Named defaults. Each constant is used in exactly one place's fallback; change behaviour through
configuration (see config.py), not here."""

DATA_DIR = "talentreel-data"
"""Data directory of an instance when neither --data nor TALENTREEL_DATA_DIR names one (relative to cwd)."""

CONFIG_FILENAME = "talentreel.toml"
"""Configuration file looked for inside the data directory."""

DATABASE_FILENAME = "talentreel.db"
"""SQLite file inside the data directory for the embedded default."""

SECRET_KEY_FILENAME = "secret.key"
"""File in the data directory holding the generated secret key (mode 0600)."""

RUN_DIRNAME = "run"
"""Sub-directory of the data directory for the lock file, sockets and the runtime file of `talentreel up`."""

PORT = 8470
"""TCP port `talentreel up` and `talentreel web` listen on."""

HOST = "127.0.0.1"
"""Address `talentreel up` and `talentreel web` bind to."""

QUEUES = ("media", "analysis", "migration", "maintenance")
"""The RQ queues, in the priority order a worker listens to them."""

JOB_TIMEOUT_SECONDS = 3600
"""Default time limit of one job before RQ kills it."""

JOB_RETRIES = 2
"""How many times a failed job is retried before its work item is marked failed."""

SESSION_LIFETIME_HOURS = 12
"""Idle lifetime of a web session."""

LOGIN_MAX_FAILURES = 5
"""Failed sign-ins per account or per address within LOGIN_WINDOW_SECONDS before sign-in is refused."""

LOGIN_WINDOW_SECONDS = 900
"""Window of the login rate limit."""

DEFAULT_LOCALE = "en"
"""Locale used when neither the user's setting nor Accept-Language names a supported one."""

LOCALES = ("en", "zh_CN")
"""Locales the product ships translations for."""

MAX_UPLOAD_BYTES = 8 * 1024**3
"""Largest recording accepted (8 GiB)."""

MAX_DURATION_SECONDS = 4 * 3600
"""Longest recording accepted (4 hours)."""

RECONCILE_INTERVAL_SECONDS = 60
"""How often the embedded worker re-enqueues work the database has but Redis lost."""

API_PAGE_SIZE = 50
"""Default page size of API list endpoints."""

API_MAX_PAGE_SIZE = 500
"""Largest page size a client may ask for."""
