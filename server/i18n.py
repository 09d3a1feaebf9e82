"""Translations (Flask-Babel): zh_CN and en.

Every user-facing string goes through `_` (or `lazy_gettext` at import time). The locale comes from
the signed-in user's setting, else the browser's Accept-Language, else `default_locale`.
Catalogues live in server/translations; docs/translating.md says how to update them.
"""

from __future__ import annotations

from pathlib import Path

from flask import g, request
from flask_babel import Babel, format_datetime, gettext, lazy_gettext, ngettext  # noqa: F401

from . import defaults

_ = gettext

TRANSLATIONS_DIR = Path(__file__).parent / "translations"

LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def select_locale() -> str:
    from flask import current_app, has_app_context, has_request_context

    if not has_request_context():  # a worker job or a CLI command: the instance's default
        return current_app.extensions["talentreel"].settings["default_locale"] if has_app_context() else defaults.DEFAULT_LOCALE
    user = getattr(g, "user", None)
    if user is not None and user.locale in defaults.LOCALES:
        return user.locale
    chosen = request.cookies.get("talentreel_locale")
    if chosen in defaults.LOCALES:
        return chosen
    # Accept-Language says zh-CN or zh; Babel's catalogue is zh_CN.
    offers = {"en": "en", "zh_CN": "zh_CN", "zh-CN": "zh_CN", "zh": "zh_CN", "zh-Hans": "zh_CN"}
    best = request.accept_languages.best_match(list(offers))
    if best:
        return offers[best]
    from flask import current_app

    return current_app.extensions["talentreel"].settings["default_locale"]


def init_app(app) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    app.config["BABEL_DEFAULT_LOCALE"] = app.extensions["talentreel"].settings["default_locale"]
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def inject_i18n():
        from flask_babel import get_locale

        return {"current_locale": str(get_locale()), "language_names": LANGUAGE_NAMES}
