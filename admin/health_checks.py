"""Health checks of what the workers and the media server depend on: the ffmpeg binary, the
analysis models, and the media server itself. Each returns {"ok": bool, "detail": str}."""

from __future__ import annotations

import functools
import subprocess
import urllib.request
from pathlib import Path

from talentreel.server.i18n import gettext as _


@functools.lru_cache(maxsize=4)
def _ffmpeg_version(executable: str) -> str:
    done = subprocess.run([executable, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10)
    first = (done.stdout or "").splitlines()[0] if done.stdout else ""
    return first.split(" Copyright")[0] or f"exit status {done.returncode}"


def check_ffmpeg(state) -> dict:
    from talentreel.server.media.ffmpeg import ffmpeg_executable

    try:
        executable = ffmpeg_executable()
        return {"ok": True, "detail": f"{_ffmpeg_version(executable)} ({executable})"}
    except Exception as exc:
        return {"ok": False, "detail": str(exc) or type(exc).__name__}


def check_models(state) -> dict:
    """Speech-to-text and vision models on disk (what the workers load at start)."""
    found, problems = [], []
    path = state.settings.get("vosk_model_path")
    if path:
        from talentreel.plugins.analyzer_stt_vosk import check_model_dir

        try:
            found.append(f"Vosk: {check_model_dir(path)}")
        except Exception as exc:
            problems.append(str(exc))
    try:
        import pocketsphinx

        model = Path(pocketsphinx.get_model_path()) / "en-us"
        (found if model.is_dir() else problems).append(f"pocketsphinx en-us: {model}")
    except Exception as exc:
        problems.append(f"pocketsphinx: {exc}")
    try:
        import cv2

        cascade = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        (found if cascade.is_file() else problems).append(f"OpenCV face cascade: {cascade}")
    except Exception as exc:
        problems.append(f"OpenCV: {exc}")
    return {"ok": not problems, "detail": "; ".join(problems + found)}


def check_media_server(state) -> dict | None:
    """The media server players fetch from, when one is configured (None: the web app serves media)."""
    settings = state.settings
    if not settings.get("media_url"):
        return None
    host = settings["media_host"]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    url = f"http://{host}:{settings['media_port']}/-/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            ok = response.status == 200
    except Exception as exc:
        return {"ok": False, "detail": _("%(url)s does not answer: %(error)s", url=url, error=getattr(exc, "reason", exc))}
    return {"ok": ok, "detail": url}
