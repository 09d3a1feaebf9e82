"""What an analyzer receives and what it returns.

An analyzer is described by the `talentreel_analyzers` hook as
``{"name", "version", "run": "module:function", "preload": "module:function" (optional),
"needs": [...], "consent": "ai" | "vision_voice", "languages": [...] (optional),
"calibration": {threshold key: {"kinds": [cue kinds], "default": value}} (optional)}``.

- ``version`` is recorded in every report; a worker re-analyses the reports an older version of an
  enabled analyzer produced (workers/analysis.py `enqueue_outdated`), so bump it whenever the
  analyzer's output changes.
- ``calibration`` names the duration thresholds (read from ``inp.thresholds``) that reviewers'
  verdicts on the given cue kinds may tune for an organisation (server/review/calibration.py).

- ``preload(settings)`` loads models once per worker process, before jobs run (the worker calls
  it in its parent process, so the forked work horses inherit the loaded models). It raises a
  typed error at start-up for a bad configuration (e.g. a Vosk model path that holds no model),
  not at the first job.
- ``run(inp: AnalysisInput) -> dict`` does the work. It may read ``inp.parts`` for the results of
  analyzers it `needs` ("transcript" = the speech-to-text part). Times are seconds from the start
  of the recording. Cues are returned as ``events``: ``{"kind", "start", "end", "why", ...}``;
  every statement is evidence pointing at a moment, never a verdict about the candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

TRANSCRIPT = "transcript"
"""`needs` value: run after the speech-to-text analyzer and read its part (inp.parts["stt"])."""

STT_PART = "stt"
"""Report key of the speech-to-text part: {"engine", "model", "language", "text", "words": [{"word",
"start", "end", "conf"}], "segments": [{"start", "end", "text", "words": [...]}]}."""


@dataclass
class AnalysisInput:
    recording_id: int
    audio_path: Path | None  # 16 kHz mono s16le WAV; None when the recording has no sound
    video_path: Path  # the processed MP4 (H.264/AAC)
    duration: float
    language: str = "en"  # "en", "zh", ...: the interview's language
    questions: list[str] = field(default_factory=list)  # the interview's question list, in order
    settings: Mapping[str, Any] = field(default_factory=dict)
    parts: dict[str, Any] = field(default_factory=dict)  # parts of analyzers that already ran
    thresholds: Mapping[str, float] = field(default_factory=dict)  # the organisation's calibrated thresholds


class AnalyzerError(Exception):
    """An analyzer failed on this input; the message says why. The other analyzers still run and
    the report records the failure."""


class AnalyzerUnavailable(Exception):
    """An analyzer cannot run in this installation (model missing, bad configuration): raised by
    preload at worker start-up with a message naming the setting to fix."""
