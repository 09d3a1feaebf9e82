"""Server-rendered pages for HR users, department heads and interviewers.

One module per area (dashboard, candidates, openings, interviews); helpers they share live in
listing.py (scoped, paginated lists), submissions.py (form validation) and display.py (translated
names of stored status codes, durations, sizes).
"""

from babel import Locale
from flask import Blueprint, g
from flask_babel import get_locale

from .. import defaults, permissions

web_bp = Blueprint("web", __name__)


@web_bp.app_context_processor
def inject_page_helpers():
    # App-wide, not blueprint-wide: base.html (and its nav) is also rendered by the sign-in and
    # error pages, which belong to other blueprints.
    def can(action: str, obj=None) -> bool:
        return permissions.can(g.get("user"), action, obj)

    return {"can": can, "locale_code": locale_code()}


def locale_code() -> str:
    """The product's code (defaults.LOCALES) of the page's locale. Babel reads "zh_CN" as zh_Hans_CN
    (hence the catalogue folder's name), so str(get_locale()) does not match the switch's codes."""
    current = get_locale()
    return next((code for code in defaults.LOCALES if Locale.parse(code) == current), str(current))


# Imported for the views they register on web_bp.
from . import calibration, candidates, consent, dashboard, display, interviews, openings, oversight  # noqa: E402,F401
from . import pool, privacy, raters, uploads  # noqa: E402,F401
