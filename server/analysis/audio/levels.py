"""Loudness per short frame, and the silences it shows.

Silence is judged against the recording itself: a threshold between its noise floor and its speech
level, so a quiet room and a noisy call centre both work without tuning. Levels are one float per
10 ms frame (about 1.4 MB per hour as float32), computed chunk by chunk from the WAV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .wav import SAMPLE_RATE, read_chunks

FRAME_SECONDS = 0.01
FLOOR_DB = -90.0
"""Levels are clipped here: digital silence has no level, and -90 dBFS is below any microphone's noise."""

THRESHOLD_FRACTION = 0.3
"""Where between noise floor and speech level the speech/silence threshold sits."""

MIN_MARGIN_DB = 6.0
"""Silence must be at least this far below the threshold's speech side even in a recording with little dynamic range."""

BRIDGE_SECONDS = 0.15
"""Speech blips shorter than this (a click, a breath) do not split a silence."""

WORD_INSIDE_SHARE = 0.5
"""A recognised word with more than this share of its duration inside a silence is speech the
loudness missed (a whisper, a soft onset): `split_by_words` cuts it out of the silence."""


def frame_levels(path, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
    """RMS level in dBFS of each frame of the WAV at `path` (float32, clipped at FLOOR_DB)."""
    frame = int(round(frame_seconds * SAMPLE_RATE))
    out, carry = [], np.zeros(0, dtype=np.float32)
    for chunk in read_chunks(path, frame * 100):
        samples = np.concatenate([carry, np.frombuffer(chunk, dtype="<i2").astype(np.float32)])
        usable = len(samples) - len(samples) % frame
        out.append(_db(samples[:usable].reshape(-1, frame)))
        carry = samples[usable:]
    if len(carry):
        out.append(_db(carry.reshape(1, -1)))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def _db(frames: np.ndarray) -> np.ndarray:
    power = np.mean(np.square(frames / 32768.0), axis=1)
    return np.maximum(10.0 * np.log10(power + 1e-12), FLOOR_DB).astype(np.float32)


def speech_threshold(levels: np.ndarray) -> float:
    """dBFS above which a frame counts as speech: between the floor (5th percentile) and the speech
    level (90th percentile) of this recording."""
    if not len(levels):
        return FLOOR_DB + MIN_MARGIN_DB
    floor, loud = np.percentile(levels, [5, 90])
    return float(floor + max(MIN_MARGIN_DB, THRESHOLD_FRACTION * (loud - floor)))


@dataclass(frozen=True)
class Silence:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def silences(levels: np.ndarray, min_seconds: float, frame_seconds: float = FRAME_SECONDS,
             threshold: float | None = None) -> list[Silence]:
    """Runs of non-speech frames at least `min_seconds` long (leading and trailing ones included)."""
    if not len(levels):
        return []
    threshold = speech_threshold(levels) if threshold is None else threshold
    speech = levels > threshold
    speech = _drop_short_runs(speech, int(round(BRIDGE_SECONDS / frame_seconds)))
    found = []
    edges = np.flatnonzero(np.diff(np.concatenate([[1], speech.astype(np.int8), [1]])))
    for begin, end in zip(edges[::2], edges[1::2]):  # each pair bounds a run of non-speech frames
        if (end - begin) * frame_seconds >= min_seconds:
            found.append(Silence(round(float(begin * frame_seconds), 3), round(float(end * frame_seconds), 3)))
    return found


def _drop_short_runs(speech: np.ndarray, max_frames: int) -> np.ndarray:
    """Turn speech runs of at most `max_frames` into non-speech."""
    if max_frames <= 0 or not speech.any():
        return speech
    speech = speech.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    for begin, end in zip(edges[::2], edges[1::2]):
        if end - begin <= max_frames:
            speech[begin:end] = False
    return speech


def split_by_words(found: list[Silence], words: list[dict], min_seconds: float) -> list[Silence]:
    """`found` with every recognised word lying mostly inside a silence cut out of it; pieces
    shorter than `min_seconds` are dropped. Word edges overlapping a silence a little are ignored:
    recognisers' word boundaries are only accurate to a few frames."""
    result = []
    for silence in found:
        pieces = [(silence.start, silence.end)]
        for word in words:
            length = max(word["end"] - word["start"], 1e-3)
            inside = min(word["end"], silence.end) - max(word["start"], silence.start)
            if inside / length <= WORD_INSIDE_SHARE:
                continue
            pieces = [p for a, b in pieces for p in ((a, min(b, word["start"])), (max(a, word["end"]), b))]
        result += [Silence(a, b) for a, b in pieces if b - a >= min_seconds]
    return result
