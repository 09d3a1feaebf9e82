"""The TalentReel core: app factory, configuration, models, hooks, auth, web, API and CLI."""

from .plugins import hookimpl  # noqa: F401  the marker plugins decorate their hooks with


def create_app(config=None, **kwargs):
    """Build the Flask application (see app.create_app)."""
    from .app import create_app as _create_app

    return _create_app(config, **kwargs)
