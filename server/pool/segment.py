"""Cutting text into the words both full-text indexes read.

Neither SQLite's FTS5 nor PostgreSQL's parser knows where Chinese words end, so text is cut here,
the same way for indexing and for querying, and handed to the database as words separated by
spaces. Chinese runs go through jieba: the index side uses its search mode (a long word also gives
its shorter words: 客户谈判 -> 客户, 谈判, 客户谈判) so a query for a part of a compound finds it;
the query side uses the precise mode. Other text is lower-cased words; punctuation and every
character either database treats as syntax are dropped, so user input can never be query syntax.
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path

from ..analysis.text.tokens import is_cjk

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
"""A run of letters or digits (inner apostrophes kept); everything else separates words."""

_tokenizer = None
_lock = threading.Lock()


def _jieba():
    """One jieba tokenizer per process; its prefix dictionary is cached on disk (about a second to
    build the first time)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                cache = Path(tempfile.gettempdir(), "talentreel-jieba")
                cache.mkdir(exist_ok=True)
                tokenizer.tmp_dir = str(cache)
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def _runs(text: str):
    """(is_chinese, run) pieces of a text."""
    run, chinese = [], None
    for char in text:
        cjk = is_cjk(char)
        if run and cjk != chinese:
            yield chinese, "".join(run)
            run = []
        run.append(char)
        chinese = cjk
    if run:
        yield chinese, "".join(run)


def words(text: str, for_index: bool = False) -> list[str]:
    out: list[str] = []
    for chinese, run in _runs(text or ""):
        if chinese:
            tokenizer = _jieba()
            pieces = tokenizer.cut_for_search(run) if for_index else tokenizer.cut(run)
            out.extend(p for p in pieces if p.strip())
        else:
            out.extend(w.lower().replace("’", "'") for w in WORD.findall(run))
    return out


def index_terms(text: str) -> str:
    """What a transcript segment is indexed as."""
    return " ".join(words(text, for_index=True))


def query_words(text: str) -> list[str]:
    """The words of a full-text query term, deduplicated, in order."""
    return list(dict.fromkeys(words(text)))
