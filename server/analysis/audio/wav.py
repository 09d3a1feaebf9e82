"""Reading the analysis WAV in chunks, so a two-hour interview costs no more memory than a minute.

The media job writes 16 kHz mono s16le; anything else means the file did not come from it, and an
analyzer says so instead of decoding noise.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..contract import AnalyzerError

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2  # bytes: s16le
CHUNK_SAMPLES = SAMPLE_RATE // 2
"""Default read size: half a second (16 KiB) keeps the per-call overhead negligible for any engine."""


@dataclass(frozen=True)
class WavInfo:
    path: Path
    frames: int  # samples, mono

    @property
    def duration(self) -> float:
        return self.frames / SAMPLE_RATE


def wav_info(path) -> WavInfo:
    """Check that `path` is the 16 kHz mono s16le WAV analysis expects; AnalyzerError if not."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width, frames = wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()
    except FileNotFoundError:
        raise AnalyzerError(f"audio file {path} does not exist") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise AnalyzerError(f"audio file {path} is not a readable WAV file ({exc})") from None
    if (rate, channels, width) != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
        raise AnalyzerError(
            f"audio file {path} is {rate} Hz, {channels} channel(s), {8 * width}-bit; "
            f"analysis expects the media job's {SAMPLE_RATE} Hz mono 16-bit WAV"
        )
    return WavInfo(path, frames)


def read_chunks(path, chunk_samples: int = CHUNK_SAMPLES) -> Iterator[bytes]:
    """The samples of the WAV as raw s16le bytes, `chunk_samples` at a time (the last may be shorter)."""
    wav_info(path)
    with wave.open(str(path), "rb") as wav:
        while True:
            data = wav.readframes(chunk_samples)
            if not data:
                return
            yield data


def read_frames(path, frame_samples: int) -> Iterator[bytes]:
    """The samples as consecutive frames of exactly `frame_samples` (what VADs insist on); a short
    tail is padded with silence so the last words are not dropped."""
    frame_bytes = frame_samples * SAMPLE_WIDTH
    carry = b""
    for chunk in read_chunks(path, max(CHUNK_SAMPLES, frame_samples)):
        data = carry + chunk
        usable = len(data) - len(data) % frame_bytes
        for offset in range(0, usable, frame_bytes):
            yield data[offset:offset + frame_bytes]
        carry = data[usable:]
    if carry:
        yield carry + b"\0" * (frame_bytes - len(carry))
