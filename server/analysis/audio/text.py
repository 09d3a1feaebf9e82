"""Normalising transcripts so that two ways of writing the same words compare equal.

The usual scoring normalisation: Unicode NFKC, lower case, punctuation removed (an apostrophe
inside a word stays: "don't"), hyphens split words, English digits spelled out as spoken
("4" -> "four", as reference transcripts write them). Chinese, Japanese and Korean script without
spaces is compared character by character, as character error rate is for those languages.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))

_TOKEN = re.compile(r"[\w']+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def spell_number(n: int) -> list[str]:
    """English words of a non-negative integer: 42 -> ["forty", "two"]."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return spell_number(head) + [name] + (spell_number(rest) if rest else [])
    raise AssertionError(n)


def normalise_words(text: str, language: str = "en") -> list[str]:
    """The comparable tokens of `text`: words, or characters for CJK script."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ")
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        token = token.strip("'_")
        if not token:
            continue
        if _CJK.search(token):
            tokens.extend(ch for ch in token if not ch.isspace())
        elif token.isdigit() and language.startswith("en") and len(token) <= 12:
            tokens.extend(spell_number(int(token)))
        else:
            tokens.append(token)
    return tokens
