"""Fundamental frequency (pitch) per frame, by normalised autocorrelation (Boersma's method, numpy).

Only the spread of pitch within an answer is used (monotone vs. lively delivery), so an estimate
per 40 ms frame is enough; frames do not overlap, which lets the WAV stream through chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from .wav import SAMPLE_RATE, read_chunks

FRAME_SECONDS = 0.04
F0_MIN = 60.0  # Hz: below a low male voice
F0_MAX = 400.0  # Hz: above a high female voice
VOICING_THRESHOLD = 0.45
"""Normalised autocorrelation peak above which a frame counts as voiced."""

_FRAME = int(FRAME_SECONDS * SAMPLE_RATE)
_FFT = 1 << int(np.ceil(np.log2(2 * _FRAME)))
_WINDOW = np.hanning(_FRAME).astype(np.float32)
# The window's own autocorrelation: dividing by it undoes the taper's bias towards short lags.
_WINDOW_AC = np.fft.irfft(np.abs(np.fft.rfft(_WINDOW, _FFT)) ** 2)[:_FRAME]
_WINDOW_AC = _WINDOW_AC / _WINDOW_AC[0]
_LAG_MIN = int(SAMPLE_RATE / F0_MAX)
_LAG_MAX = int(SAMPLE_RATE / F0_MIN)


def pitch_track(path) -> np.ndarray:
    """f0 in Hz of each FRAME_SECONDS frame of the WAV; NaN where the frame is unvoiced or silent."""
    out, carry = [], np.zeros(0, dtype=np.float32)
    for chunk in read_chunks(path, _FRAME * 250):
        samples = np.concatenate([carry, np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0])
        usable = len(samples) - len(samples) % _FRAME
        if usable:
            out.append(_f0(samples[:usable].reshape(-1, _FRAME)))
        carry = samples[usable:]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def _f0(frames: np.ndarray) -> np.ndarray:
    frames = (frames - frames.mean(axis=1, keepdims=True)) * _WINDOW
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, _FFT, axis=1)) ** 2, axis=1)[:, :_FRAME]
    energy = ac[:, 0]
    result = np.full(len(frames), np.nan, dtype=np.float32)
    live = energy > 1e-7  # about -70 dBFS: no pitch in silence
    if not live.any():
        return result
    norm = ac[live] / energy[live, None] / _WINDOW_AC
    search = norm[:, _LAG_MIN:_LAG_MAX + 1]
    best = np.argmax(search, axis=1)
    peak = search[np.arange(len(best)), best]
    lag = (best + _LAG_MIN).astype(np.float32)
    # Parabolic interpolation around the peak for sub-sample lag precision.
    inner = (best > 0) & (best < search.shape[1] - 1)
    idx = np.flatnonzero(inner)
    left, mid, right = search[idx, best[idx] - 1], search[idx, best[idx]], search[idx, best[idx] + 1]
    denom = left - 2 * mid + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    lag[idx] += np.clip(shift, -1, 1)
    f0 = np.where(peak >= VOICING_THRESHOLD, SAMPLE_RATE / lag, np.nan)
    result[live] = f0
    return result


def semitone_spread(f0: np.ndarray) -> float | None:
    """Standard deviation of voiced pitch in semitones around its median, ignoring octave jumps
    (estimation errors, not intonation); None with fewer than 10 voiced frames."""
    voiced = f0[np.isfinite(f0)]
    if len(voiced) < 10:
        return None
    semitones = 12.0 * np.log2(voiced / np.median(voiced))
    semitones = semitones[np.abs(semitones) < 12.0]
    return float(np.std(semitones)) if len(semitones) >= 10 else None
