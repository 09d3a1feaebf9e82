"""The analyzers' audio: 16 kHz mono 16-bit PCM WAV, on the replay's timeline.

Made by the analysis job from video.mp4 (the file the replay plays) into its scratch directory
and never stored: it is cheap to remake, large (about 2 MB a minute), and not needed to play the
recording, so the media job does not spend its time on it.
"""

from __future__ import annotations

from pathlib import Path

from . import ffmpeg
from .probe import probe

SAMPLE_RATE = 16000


def extract_wav(source: Path, target: Path, *, timeout: float | None = None, cancel=None) -> Path | None:
    """Write `source`'s first audio stream to `target` as a WAV; None when it has no sound.

    first_pts=0 pads silence when the sound starts after the picture, so a time in the analysis
    is the same time in the replay."""
    info = probe(Path(source))
    if info.audio is None:
        return None
    ffmpeg.run(["-i", str(source), "-map", "0:a:0", "-af", "aresample=first_pts=0", "-ar", str(SAMPLE_RATE),
                "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", str(target)],
               duration=info.duration, timeout=timeout, cancel=cancel)
    return Path(target)
