"""Timed tokens: transcript words cut into comparable units, each with the time it was said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*\*?")
"""An alphabetic word: letters and digits, inner apostrophes kept ("don't"), a trailing * kept for
taxonomy wildcards. Hyphens and other punctuation separate words."""


TURN_PAUSE = 0.8
"""Seconds of silence that end a segment when the engine gives words but no segments."""


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0xF900 <= code <= 0xFAFF or 0x3040 <= code <= 0x30FF or 0xAC00 <= code <= 0xD7AF)


@dataclass(frozen=True)
class Token:
    text: str
    start: float
    end: float
    word: int  # index of the transcript word it comes from


def split(text: str) -> list[str]:
    """Comparable units of a text: one per CJK character, one per lower-cased alphabetic word."""
    units: list[str] = []
    run: list[str] = []
    for char in text:
        if is_cjk(char):
            if run:
                units += WORD.findall("".join(run).lower())
                run = []
            units.append(char)
        else:
            run.append(char)
    if run:
        units += WORD.findall("".join(run).lower())
    return units


def timed(words: Sequence[Mapping]) -> list[Token]:
    """Tokens of transcript words; the characters of a CJK word share its time span evenly."""
    tokens: list[Token] = []
    for index, word in enumerate(words):
        units = split(str(word.get("word", "")))
        start, end = float(word["start"]), float(word["end"])
        step = (end - start) / len(units) if units else 0.0
        for k, unit in enumerate(units):
            if len(units) > 1 and is_cjk(unit[0]):
                tokens.append(Token(unit, round(start + k * step, 3), round(start + (k + 1) * step, 3), index))
            else:
                tokens.append(Token(unit, start, end, index))
    return tokens


def join(texts: Iterable[str]) -> str:
    """Words back into display text: a space between words, none between CJK characters."""
    out = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if out and not (is_cjk(out[-1]) or is_cjk(text[0])):
            out += " "
        out += text
    return out


def words_of(stt: Mapping) -> list[dict]:
    """The transcript's words in order, each tagged with its segment's speaker when segments say.

    Segments are preferred over the flat list because they carry speaker labels (when the engine
    diarises) and turn boundaries; from a flat list, segments are cut at pauses.
    """
    segments = stt.get("segments") or []
    if segments and all(seg.get("words") for seg in segments):
        words = []
        for number, seg in enumerate(segments):
            for word in seg["words"]:
                words.append({**word, "segment": number, "speaker": seg.get("speaker")})
        return words
    words, number = [], 0
    for word in stt.get("words") or []:  # no segments: a pause long enough for a turn change starts one
        if words and float(word["start"]) - float(words[-1]["end"]) >= TURN_PAUSE:
            number += 1
        words.append({**word, "segment": number, "speaker": None})
    return words


def within(words: Sequence[Mapping], start: float, end: float) -> list[Mapping]:
    """Words whose middle falls inside [start, end]."""
    return [w for w in words if start <= (float(w["start"]) + float(w["end"])) / 2 <= end]
