"""Find listed phrases in timed tokens.

A phrase is cut like the transcript (tokens.split): Chinese phrases match character by character,
so ASR word boundaries do not matter; other phrases match word by word, and a word ending in `*`
matches any word it begins ("negotiat*" finds negotiate, negotiation, negotiating).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .tokens import Token, split


@dataclass(frozen=True)
class Hit:
    phrase: str
    payload: Any
    first: int  # token indices, inclusive
    last: int


class PhraseIndex:
    def __init__(self, phrases: Iterable[tuple[str, Any]]):
        self._by_first: dict[str, list[tuple[list[str], str, Any]]] = {}
        self._wild_first: list[tuple[list[str], str, Any]] = []
        for phrase, payload in phrases:
            units = split(phrase)
            if not units:
                continue
            entry = (units, phrase, payload)
            if units[0].endswith("*"):
                self._wild_first.append(entry)
            else:
                self._by_first.setdefault(units[0], []).append(entry)

    def find(self, tokens: Sequence[Token]) -> list[Hit]:
        texts = [t.text for t in tokens]
        hits = []
        for i, text in enumerate(texts):
            for units, phrase, payload in self._by_first.get(text, []) + [e for e in self._wild_first if _same(e[0][0], text)]:
                end = i + len(units)
                if end <= len(texts) and all(_same(u, t) for u, t in zip(units[1:], texts[i + 1: end])):
                    hits.append(Hit(phrase, payload, i, end - 1))
        return hits


def _same(unit: str, text: str) -> bool:
    return text.startswith(unit[:-1]) if unit.endswith("*") else unit == text


def longest_per_payload(hits: Iterable[Hit]) -> list[Hit]:
    """Of hits of one payload that overlap, keep the longest ("led a team" over "team")."""
    kept: dict[Any, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: (h.first, -(h.last - h.first))):
        same = kept.setdefault(hit.payload, [])
        if same and hit.first <= same[-1].last:
            continue
        same.append(hit)
    return sorted((h for group in kept.values() for h in group), key=lambda h: (h.first, str(h.payload)))
