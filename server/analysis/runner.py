"""Running the enabled analyzers on one recording, in dependency order, each isolated.

The runner knows analyzers only by their descriptions (the `talentreel_analyzers` hook). It
imports their `run` by dotted path, orders them so that an analyzer needing the transcript runs
after speech-to-text, skips those the organisation or the candidate's consent does not allow, and
records for every analyzer whether it ran, was skipped (and why) or failed (and why): one that
crashes never stops the others.
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from typing import Any, Callable

from .contract import STT_PART, TRANSCRIPT, AnalysisInput

QUESTIONS_PART = "questions"

log = logging.getLogger("talentreel.analysis")

_loaded: dict[str, Callable] = {}


def resolve(path: str) -> Callable:
    """Import "module:function" once per process."""
    if path not in _loaded:
        module, _, name = path.partition(":")
        _loaded[path] = getattr(importlib.import_module(module), name)
    return _loaded[path]


def part_key(description: dict) -> str:
    """Where an analyzer's result goes in the report: speech-to-text engines all write `stt`."""
    return description.get("part") or description["name"]


def chosen_stt_engine(settings) -> str:
    """`stt_engine`, where `auto` means Vosk when a Vosk model is configured, else pocketsphinx."""
    engine = settings.get("stt_engine") or "auto"
    if engine == "auto":
        return "vosk" if settings.get("vosk_model_path") else "pocketsphinx"
    return engine


def not_chosen(description: dict, settings) -> str | None:
    """Why a speech-to-text analyzer is not the one to run (None for the chosen one and others)."""
    if part_key(description) == STT_PART and description.get("engine") and description["engine"] != chosen_stt_engine(settings):
        return f"speech-to-text uses {chosen_stt_engine(settings)} here (settings stt_engine / vosk_model_path)"
    return None


def order(descriptions: list[dict]) -> list[dict]:
    """Speech-to-text first, then question alignment (others may use which answer a moment
    belongs to), then the rest; within a rank by name, so the order is stable."""
    def rank(d: dict) -> tuple:
        if part_key(d) == STT_PART:
            return (0, d["name"])
        if part_key(d) == QUESTIONS_PART:
            return (1, d["name"])
        return (2, d["name"])

    return sorted(descriptions, key=rank)


def run_all(descriptions: list[dict], inp: AnalysisInput, allowed: Callable[[dict], str | None],
            progress: Callable[[float, str], None] | None = None) -> dict[str, dict]:
    """Run every analyzer; return {name: status} and fill inp.parts.

    allowed(description) -> None to run it, or the reason it must not run (no consent, turned off).
    A status is {"name", "version", "part", "state": "ran"|"skipped"|"failed", "reason"?, "seconds"?}.
    """
    statuses: dict[str, dict] = {}
    chosen = order(descriptions)
    for index, description in enumerate(chosen):
        name = description["name"]
        status: dict[str, Any] = {"name": name, "version": description.get("version"), "part": part_key(description)}
        statuses[name] = status
        reason = allowed(description)
        if reason is None and part_key(description) in inp.parts:
            reason = f"{part_key(description)} was already produced by another analyzer"
        if reason is None:
            reason = _missing_input(description, inp)
        if reason is not None:
            status.update(state="skipped", reason=reason)
            continue
        if progress:
            progress(index / max(1, len(chosen)), name)
        started = time.monotonic()
        try:
            result = resolve(description["run"])(inp)
        except Exception as exc:  # one analyzer's crash is recorded, the others go on
            log.warning("analyzer %s failed on recording %s: %s", name, inp.recording_id, exc)
            status.update(state="failed", reason=f"{type(exc).__name__}: {exc}",
                          trace=traceback.format_exc(limit=3)[-2000:])
            continue
        status.update(state="ran", seconds=round(time.monotonic() - started, 3))
        inp.parts[part_key(description)] = result
    return statuses


def _missing_input(description: dict, inp: AnalysisInput) -> str | None:
    needs = set(description.get("needs", ()))
    if "audio" in needs and inp.audio_path is None:
        return "the recording has no sound"
    if TRANSCRIPT in needs and STT_PART not in inp.parts:
        return "no transcript (speech-to-text did not run)"
    if QUESTIONS_PART in needs and QUESTIONS_PART not in inp.parts:
        return "no question alignment"
    return None
