"""Where players fetch media from: the media server named by the `media_url` setting, or, when
it is empty, the web app's own /media/ endpoint. Pages build media links and their
Content-Security-Policy from here, so both always agree."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def media_base() -> str | None:
    """The media server's base URL for this request (no trailing slash), or None."""
    url = current_app.extensions["talentreel"].settings["media_url"]
    if not url:
        return None
    if "{host}" in url:
        # Same machine, another port: the host name the browser reached the web UI by.
        hostname = urlsplit("//" + request.host).hostname or "localhost"
        url = url.replace("{host}", f"[{hostname}]" if ":" in hostname else hostname)
    return url.rstrip("/")


def media_link(token: str, name: str) -> str:
    base = media_base()
    if base is None:
        return url_for("playback.media", token=token, name=name)
    return f"{base}/media/{token}/{name}"


def media_origin() -> str | None:
    """scheme://host[:port] of the media server, for CSP source lists; None: same origin."""
    base = media_base()
    if base is None:
        return None
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"
