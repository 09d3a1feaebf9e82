"""Cut a stream of audio frames into utterances at pauses, in bounded memory.

Decoders do better and cost less on utterances than on one long recording: each utterance starts
the search afresh (no drift over an hour of audio), and its lattice stays small. A frame-level
speech detector says where speech is; an utterance ends after `min_gap` of non-speech, keeps `pad`
of audio on either side (detectors clip soft onsets and word endings), and is cut at the quietest
point once it reaches `max_seconds`, so memory never grows with the recording.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .wav import SAMPLE_RATE, SAMPLE_WIDTH

MIN_GAP_SECONDS = 0.5
"""Non-speech that ends an utterance: longer than a breath between words, shorter than between sentences."""

PAD_SECONDS = 0.25
"""Audio kept before and after the detected speech."""

MAX_UTTERANCE_SECONDS = 30.0
"""Longest utterance handed to a decoder (bounds memory and search cost per utterance)."""


@dataclass
class Utterance:
    start: float  # seconds from the start of the recording
    audio: bytes  # s16le samples

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / (SAMPLE_RATE * SAMPLE_WIDTH)


def cut_utterances(frames: Iterable[bytes], is_speech: Callable[[bytes], bool], frame_seconds: float,
                   min_gap: float = MIN_GAP_SECONDS, pad: float = PAD_SECONDS,
                   max_seconds: float = MAX_UTTERANCE_SECONDS) -> Iterator[Utterance]:
    """Yield the utterances of `frames` (equal-length s16le frames of `frame_seconds`)."""
    gap_frames = max(1, round(min_gap / frame_seconds))
    pad_frames = round(pad / frame_seconds)
    max_frames = max(gap_frames + 2 * pad_frames + 1, int(max_seconds / frame_seconds + 1e-9))

    before: deque[bytes] = deque(maxlen=pad_frames)  # pre-roll while outside speech
    current: list[bytes] = []  # frames of the utterance being collected
    flags: list[bool] = []  # speech decision of each frame in `current`
    start_index = 0  # frame index of current[0]
    trailing = 0  # non-speech frames at the end of `current`

    def emit(upto: int) -> Utterance:
        return Utterance(start_index * frame_seconds, b"".join(current[:upto]))

    for index, frame in enumerate(frames):
        speech = is_speech(frame)
        if not current:
            if not speech:
                before.append(frame)
                continue
            current = list(before) + [frame]
            flags = [False] * len(before) + [True]
            start_index = index - len(before)
            before.clear()
            trailing = 0
            continue
        current.append(frame)
        flags.append(speech)
        trailing = 0 if speech else trailing + 1
        if trailing >= gap_frames:
            keep = len(current) - trailing + pad_frames
            if any(flags[:keep]):  # the rest of a cut-off utterance may hold no speech
                yield emit(keep)
            before.extend(current[keep:])
            current, flags = [], []
        elif len(current) >= max_frames:
            cut = _quietest_cut(flags, gap_frames)
            yield emit(cut)
            start_index += cut
            current, flags = current[cut:], flags[cut:]
    if current and any(flags):
        end = len(current) - trailing + min(trailing, pad_frames)
        yield emit(end)


def _quietest_cut(flags: list[bool], gap_frames: int) -> int:
    """Where to split an over-long utterance: the middle of its longest non-speech run in the second
    half (a pause between words), else its end (continuous speech with no pause at all)."""
    best_len, best_mid, run = 0, len(flags), 0
    for i in range(len(flags) // 2, len(flags)):
        run = 0 if flags[i] else run + 1
        if run > best_len:
            best_len, best_mid = run, i - run // 2
    return best_mid if best_len else len(flags)
