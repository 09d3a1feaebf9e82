"""Keywords of what a candidate said: jieba's TF-IDF for Chinese, YAKE for other languages.

Both are statistical and ship everything they need in their wheels (jieba its dictionary and IDF
table, YAKE its stop-word lists): nothing is downloaded. jieba builds a prefix-dictionary cache on
first use and logs to stderr; its cache goes under the data directory and its logger is quietened.
Weights are rescaled so the best keyword of a list weighs 1.0, whichever engine found it.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path
from typing import Mapping

from .tokens import split

ZH_POS_WEIGHTS = {
    "n": 1.0, "nr": 1.0, "ns": 1.0, "nt": 1.0, "nz": 1.0, "nrt": 1.0, "nrfg": 1.0, "eng": 1.0, "j": 1.0,
    "vn": 1.0,  # verbal nouns: 培训, 管理
    "ng": 0.8, "l": 0.8, "i": 0.8, "an": 0.8,
    "v": 0.6, "a": 0.5,  # verbs and adjectives carry less of what an answer is about than its nouns
}
"""Part-of-speech tags (jieba's ICTCLAS set) that can be keywords, with the weight of each. Time
words, numerals, pronouns, adverbs and particles are left out."""

ZH_STOP = frozenset("""我会 我们 他们 你们 她们 咱们 大家 这个 那个 这些 那些 问题 没有 时候 事情 东西 觉得 就是 可能 知道
一些 一下 这样 那样 还是 已经 其实 应该 感觉 比较 非常 然后 所以 因为 但是 如果 进行 有点 一个 今天 现在""".split())
"""Words jieba's own stop list lets through that say nothing about an answer."""

YAKE_NGRAM = 2
"""Longest English keyword in words: pairs ("billing system") read well; triples pull in glue words."""

YAKE_DEDUP = 0.7


class Keywords:
    """One per worker process: building jieba's tokenizer takes about a second."""

    def __init__(self, cache_dir: str | Path | None = None):
        self.cache_dir = Path(cache_dir or Path(tempfile.gettempdir(), "talentreel-jieba"))
        self._zh = None
        self._yake: dict[str, object] = {}

    def extract(self, text: str, language: str, top: int) -> list[dict]:
        """[{"keyword", "weight"}], best first, at most `top`."""
        if not text.strip():
            return []
        wanted = 2 * top  # room for the ones _distinct drops
        pairs = self._chinese(text, wanted) if language.lower().startswith("zh") else self._yake_keywords(text, language, wanted)
        pairs = _distinct(pairs)[:top]
        if not pairs:
            return []
        best = pairs[0][1]
        return [{"keyword": word, "weight": round(weight / best, 3)} for word, weight in pairs]

    def warm(self, languages=("zh", "en")) -> None:
        """Load what `extract` would load on first use (the worker's preload calls this)."""
        for language in languages:
            self.extract("团队合作" if language == "zh" else "team work", language, 1)

    def _chinese(self, text: str, top: int) -> list[tuple[str, float]]:
        tfidf = self._zh or self._load_jieba()
        weights: dict[str, float] = {}
        for pair, weight in tfidf.extract_tags(text, topK=None, withWeight=True, allowPOS=tuple(ZH_POS_WEIGHTS), withFlag=True):
            if pair.word not in ZH_STOP:
                weights[pair.word] = weights.get(pair.word, 0.0) + weight * ZH_POS_WEIGHTS[pair.flag]
        return sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:top]

    def _load_jieba(self):
        import jieba
        import jieba.analyse
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)  # "Building prefix dict..." on every first load
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tokenizer = jieba.Tokenizer()
        tokenizer.tmp_dir = str(self.cache_dir)
        tokenizer.initialize()
        # A copy of jieba's default TF-IDF shares its IDF table (loaded at import) but cuts text
        # with this tokenizer, so jieba's global state and cache location are left alone.
        tfidf = copy.copy(jieba.analyse.default_tfidf)
        tfidf.tokenizer = tokenizer
        tfidf.postokenizer = jieba.posseg.POSTokenizer(tokenizer)
        self._zh = tfidf
        return tfidf

    def _yake_keywords(self, text: str, language: str, top: int) -> list[tuple[str, float]]:
        import yake

        code = language.lower().split("-")[0].split("_")[0] or "en"
        extractor = self._yake.get(code)
        if extractor is None:
            # Positional: the parameter names changed between YAKE releases, their order did not.
            extractor = self._yake[code] = yake.KeywordExtractor(code, YAKE_NGRAM, YAKE_DEDUP, top=50)
        found = extractor.extract_keywords(text)[:top]
        # YAKE scores fall as relevance rises; invert so that weights rise with it.
        return [(keyword, 1.0 / max(float(score), 1e-9)) for keyword, score in found]


def _distinct(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Drop a keyword that a better one already contains ("system" after "billing system")."""
    kept: list[tuple[str, float]] = []
    for word, weight in pairs:
        units = split(word)
        if not any(_within(units, split(better)) for better, _ in kept):
            kept.append((word, weight))
    return kept


def _within(units: list[str], other: list[str]) -> bool:
    n = len(units)
    return n < len(other) and any(other[i: i + n] == units for i in range(len(other) - n + 1))


_shared: Keywords | None = None


def shared(settings: Mapping | None = None) -> Keywords:
    """The worker process's extractor, its jieba cache under the data directory when one is set."""
    global _shared
    if _shared is None:
        data_dir = (settings or {}).get("data_dir")
        _shared = Keywords(Path(data_dir, "cache", "jieba") if data_dir else None)
    return _shared
