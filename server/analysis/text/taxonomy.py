"""The competency taxonomy: which phrases said in an answer are evidence of which competency.

A TOML file that HR edits (the `taxonomy_path` setting; the default ships with TalentReel):

    [competencies.teamwork]
    labels = { zh = "团队协作", en = "Teamwork" }
    phrases.zh = ["团队", "合作"]
    phrases.en = ["team", "collaborat*"]

Competency keys are stable ids (tags and reports refer to them); labels are what people read.
English phrases may end a word in `*` to match any ending. The file is read again when it
changes, so an edit applies to the next analysis without restarting workers.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .phrases import PhraseIndex


class TaxonomyError(ValueError):
    """The taxonomy file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Competency:
    key: str
    labels: Mapping[str, str]
    phrases: Mapping[str, tuple[str, ...]]

    def label(self, language: str) -> str:
        return self.labels.get(_base(language)) or self.labels.get("en") or self.key


@dataclass(frozen=True)
class Taxonomy:
    source: str
    competencies: tuple[Competency, ...]

    def by_key(self, key: str) -> Competency:
        return next(c for c in self.competencies if c.key == key)

    def index(self, language: str) -> PhraseIndex:
        """The phrases of `language` (its base: "zh-CN" reads "zh"), each found for its competency."""
        base = _base(language)
        return PhraseIndex((phrase, c.key) for c in self.competencies for phrase in c.phrases.get(base, ()))


def _base(language: str) -> str:
    return language.lower().replace("_", "-").split("-")[0]


def parse(data: Mapping, source: str) -> Taxonomy:
    table = data.get("competencies")
    if not isinstance(table, Mapping) or not table:
        raise TaxonomyError(f"taxonomy {source}: expected a [competencies.NAME] table for each competency")
    competencies = []
    for key, entry in table.items():
        where = f"taxonomy {source}: competency '{key}'"
        if not isinstance(entry, Mapping):
            raise TaxonomyError(f"{where}: expected a table with labels and phrases")
        labels, phrases = entry.get("labels", {}), entry.get("phrases")
        if not isinstance(labels, Mapping) or not all(isinstance(v, str) and v.strip() for v in labels.values()):
            raise TaxonomyError(f"{where}: labels must map a language to a name, e.g. labels = {{ en = \"Teamwork\" }}")
        if not isinstance(phrases, Mapping) or not phrases:
            raise TaxonomyError(f"{where}: phrases must map a language to a list, e.g. phrases.en = [\"team\"]")
        for language, items in phrases.items():
            if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
                raise TaxonomyError(f"{where}: phrases.{language} must be a list of non-empty strings")
        competencies.append(Competency(
            key=key,
            labels={_base(k): v.strip() for k, v in labels.items()},
            phrases={_base(k): tuple(dict.fromkeys(p.strip() for p in v)) for k, v in phrases.items()},
        ))
    return Taxonomy(source, tuple(competencies))


def load(path: str | Path) -> Taxonomy:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise TaxonomyError(f"taxonomy {path}: no such file") from None
    except OSError as exc:
        raise TaxonomyError(f"taxonomy {path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"taxonomy {path}: not valid TOML ({exc})") from None
    return parse(data, str(path))


_cache: dict[str, tuple[tuple[int, int], Taxonomy]] = {}


def load_current(path: str | Path) -> Taxonomy:
    """load(), again only when the file changed since the last call."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load(path)  # raises the error that names the problem
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    taxonomy = load(path)
    _cache[str(path)] = (stamp, taxonomy)
    return taxonomy
