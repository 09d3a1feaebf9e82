"""The application factory."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import peewee
import pluggy
from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import db as dbmod
from . import schema
from .auth.sessions import TalentReelSessionInterface
from .config import load_settings
from .errors import DatabaseUnavailable, NotFound, PermissionDenied, ValidationError
from .plugins import make_plugin_manager, merged_by_name

log = logging.getLogger("talentreel")

csrf = CSRFProtect()

# gunicorn's threads may all ask for the storage on their first request at once: built under a
# lock, it is built once.
_build_lock = threading.RLock()


@dataclass
class TalentReel:
    """Per-application state, kept in ``app.extensions["talentreel"]``."""

    settings: Mapping[str, Any]
    plugins: pluggy.PluginManager
    database: peewee.Database
    _storage: Any = field(default=None, repr=False)
    _store: Any = field(default=None, repr=False)

    @property
    def storage(self):
        """The configured storage backend, built on first use."""
        if self._storage is not None:
            return self._storage
        with _build_lock:
            if self._storage is None:
                self._storage = self._build_storage()
        return self._storage

    def _build_storage(self):
        backends = merged_by_name(self.plugins, "talentreel_storage_backends")
        name = self.settings["storage_backend"]
        if name not in backends:
            from .errors import ConfigError

            raise ConfigError(f"setting 'storage_backend': no plugin offers '{name}' (available: {', '.join(sorted(backends))})")
        return backends[name]["factory"](self.settings)

    @property
    def store(self):
        """The storage backend seen through encryption: what every caller stores objects with."""
        if self._store is not None:
            return self._store
        with _build_lock:
            if self._store is None:
                from .encryption.store import EncryptedStore

                self._store = EncryptedStore.from_settings(self.storage, self.settings)
        return self._store


def create_app(config: Mapping[str, Any] | None = None, *, migrate: bool = True) -> Flask:
    """Build a TalentReel application.

    config: setting overrides (see config.SETTINGS); they win over the config file and environment.
    migrate: apply pending schema migrations (CLI commands that only read may skip it).
    Raises ConfigError, PluginError or DatabaseUnavailable with a one-line message.
    """
    settings = load_settings(config)
    logging.basicConfig(level=settings["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings["secret_key"],
        SESSION_COOKIE_NAME="talentreel_session",
        SESSION_COOKIE_SECURE=settings["cookie_secure"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=settings["cookie_secure"],
        JSON_SORT_KEYS=False,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    if settings["trust_proxy"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    database = dbmod.open_database(settings["database_url"])
    dbmod.check_connection(database, settings["database_url"])
    dbmod.database.initialize(database)
    if migrate:
        schema.migrate(database)

    plugins = make_plugin_manager(settings)
    state = TalentReel(settings=settings, plugins=plugins, database=database)
    app.extensions["talentreel"] = state

    app.session_interface = TalentReelSessionInterface()
    csrf.init_app(app)

    from . import i18n

    i18n.init_app(app)
    _install_request_hooks(app, database)
    _install_error_handlers(app)

    from .api import api_bp
    from .auth.views import auth_bp
    from .meta import meta_bp
    from .web import web_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(meta_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # token-authenticated, never cookie-authenticated

    from . import ingest
    from .playback.views import playback_bp
    from .recordings import complete_upload

    app.register_blueprint(playback_bp)
    from .portal import portal_bp

    app.register_blueprint(portal_bp)
    ingest.init_app(app)
    ingest.register_completion_handler(app, lambda upload, path: complete_upload(state, upload, path))

    from ..admin import init_app as init_admin

    init_admin(app)

    from ..monitoring import init_app as init_monitoring

    init_monitoring(app)

    # Imported here, while one thread runs: the encryption modules import each other, and a
    # first import racing in two request threads handed one of them a half-initialised module
    # (500s on the first concurrent media requests of a fresh gunicorn worker).
    from . import encryption  # noqa: F401

    plugins.hook.talentreel_startup(app=app)
    return app


def _install_request_hooks(app: Flask, database: peewee.Database) -> None:
    @app.before_request
    def open_db():
        # A view marked lazy_database (the media endpoint, which answers most requests from its
        # caches) connects on its first query, if any (peewee's autoconnect); close_db closes it.
        if getattr(app.view_functions.get(request.endpoint), "lazy_database", False):
            return
        # The session interface ran already and may have connected; this makes it explicit.
        database.connect(reuse_if_open=True)

    @app.before_request
    def load_user():
        from flask import session

        g.user = getattr(session, "user", None)

    @app.teardown_request
    def close_db(exc):
        if not database.is_closed():
            database.close()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        nonce = getattr(g, "csp_nonce", None)  # pages with framework inline scripts (admin) get a nonce
        script_src = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
        style_src = "'self' 'unsafe-inline'" if nonce else "'self'"
        if "Content-Security-Policy" not in response.headers:
            from .playback.links import media_origin

            media = media_origin()  # the media server, when another origin serves recordings
            extra = f" {media}" if media else ""
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; img-src 'self' data: blob:{extra}; media-src 'self' blob:{extra}; "
                f"connect-src 'self'{extra}; style-src {style_src}; "
                f"script-src {script_src}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def _wants_json() -> bool:
    return (request.path.startswith(("/api/", "/-/")) or request.path.endswith(".json")
            or request.accept_mimetypes.best == "application/json")


def _install_error_handlers(app: Flask) -> None:
    from .i18n import _

    def render(status: int, message: str):
        if _wants_json():
            return jsonify({"error": message, "status": status}), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(peewee.OperationalError)
    @app.errorhandler(peewee.InterfaceError)
    @app.errorhandler(DatabaseUnavailable)
    def database_down(exc):
        log.error("database unavailable: %s", exc)
        return render(503, _("The database is unavailable; try again shortly."))

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        return render(400, _("The form expired or did not come from this site; reload the page and try again."))

    @app.errorhandler(ValidationError)
    def invalid(exc):
        return render(400, str(exc))

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(exc):
        return render(404, _("Not found."))

    @app.errorhandler(PermissionDenied)
    @app.errorhandler(403)
    def forbidden(exc):
        return render(403, _("You do not have access to this."))

    @app.errorhandler(405)
    def method_not_allowed(exc):
        body, status = render(405, _("This method is not allowed here."))
        response = app.make_response((body, status))
        if getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 requires it on 405
        return response

    @app.errorhandler(413)
    def too_large(exc):
        return render(413, _("The request is too large."))

    @app.errorhandler(500)
    def server_error(exc):
        return render(500, _("Something went wrong on the server; the error was logged."))
