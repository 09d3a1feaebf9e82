"""The label map: old label names to the new system's, from a file the customer's admin supplies.

The file is CSV (UTF-8 or GBK): ``old,new`` per row, optionally under a header row ``旧标签,新标签``
(or ``old,new``). Old and new names share one namespace, so a chain ``A,B`` + ``B,C`` means A ends
as C, and a row mapping a name to itself keeps it. What cannot be decided is never guessed: a label
mapped two different ways, or caught in a cycle (``A,B`` + ``B,A``), or mapped to nothing, stays
unmapped, and the problem is reported with its rows. A label a report uses that the map does not
name is kept as an unmapped legacy label and listed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import inputs

HEADER_NAMES = {("旧标签", "新标签"), ("old", "new"), ("old_label", "new_label"), ("legacy", "new"), ("from", "to")}


def normal_label(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split())


@dataclass
class LabelMap:
    file: str | None = None
    encoding: str | None = None
    table: dict[str, str] = field(default_factory=dict)  # old -> final new name, decided entries only
    problems: list[dict] = field(default_factory=list)  # {"problem", "labels", "rows"}
    undecided: set[str] = field(default_factory=set)  # old names the file names but cannot map

    def resolve(self, label: str) -> str | None:
        """The new name of a legacy label, or None: keep it as an unmapped legacy label."""
        return self.table.get(normal_label(label))

    def as_report(self) -> dict:
        return {"file": self.file, "encoding": self.encoding, "map": dict(self.table), "problems": list(self.problems)}


def load(path: Path | None) -> LabelMap:
    """Read a label map file (None: an empty map). Never raises for bad content: an unreadable
    file or row becomes a problem in the map, and the run goes on."""
    if path is None:
        return LabelMap()
    path = Path(path)
    result = LabelMap(file=str(path))
    try:
        decoded = inputs.read_text(path)
    except inputs.UnknownEncoding as exc:
        result.problems.append({"problem": "unknown encoding", "detail": str(exc), "rows": []})
        return result
    except OSError as exc:
        result.problems.append({"problem": "file unreadable", "detail": f"{path}: {exc.strerror or exc}", "rows": []})
        return result
    result.encoding = decoded.encoding
    import csv
    import io

    entries: dict[str, list[tuple[str, int]]] = {}
    for number, row in enumerate(csv.reader(io.StringIO(decoded.text, newline="")), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and len(cells) >= 2 and (cells[0].lower(), cells[1].lower()) in HEADER_NAMES:
            continue
        if len(cells) < 2 or not cells[0]:
            result.problems.append({"problem": "malformed row", "detail": ",".join(row), "rows": [number]})
            continue
        old, new = normal_label(cells[0]), normal_label(cells[1])
        if not new:
            result.problems.append({"problem": "no new name", "labels": [old], "rows": [number]})
            result.undecided.add(old)
            continue
        entries.setdefault(old, []).append((new, number))

    direct: dict[str, str] = {}
    for old, targets in entries.items():
        names = sorted({t for t, _ in targets})
        rows = [n for _, n in targets]
        if len(names) > 1:
            result.problems.append({"problem": "conflicting duplicates", "labels": [old], "targets": names, "rows": rows})
            result.undecided.add(old)
        else:
            if len(targets) > 1:
                result.problems.append({"problem": "duplicate row", "labels": [old], "targets": names, "rows": rows})
            direct[old] = names[0]

    for cycle in _cycles(direct):
        rows = sorted(n for label in cycle for _, n in entries[label])
        result.problems.append({"problem": "cycle", "labels": cycle + [cycle[0]], "rows": rows})
        result.undecided.update(cycle)
    for old in direct:
        if old in result.undecided:
            continue
        final, chain = _follow(old, direct, result.undecided)
        if final is None:
            result.problems.append({"problem": "maps onto an undecided label", "labels": chain,
                                    "rows": [n for _, n in entries[old]]})
            result.undecided.add(old)
        else:
            result.table[old] = final
    return result


def _follow(start: str, direct: dict[str, str], undecided: set[str]) -> tuple[str | None, list[str]]:
    """Follow start -> ... to a name that maps no further (or to itself). None for a cycle, or a
    chain passing through an undecided name."""
    chain = [start]
    seen = {start}
    current = start
    while True:
        if current in undecided:
            return None, chain
        nxt = direct.get(current)
        if nxt is None or nxt == current:
            return current, chain
        if nxt in seen:
            return None, chain
        chain.append(nxt)
        seen.add(nxt)
        current = nxt


def _cycles(direct: dict[str, str]) -> list[list[str]]:
    """Each cycle of two or more names once, starting at its smallest name."""
    found = []
    done: set[str] = set()
    for start in sorted(direct):
        path: list[str] = []
        index: dict[str, int] = {}
        current = start
        while current in direct and current not in done and current not in index and direct[current] != current:
            index[current] = len(path)
            path.append(current)
            current = direct[current]
        if current in index:
            cycle = path[index[current]:]
            low = cycle.index(min(cycle))
            found.append(cycle[low:] + cycle[:low])
        done.update(path)
    return found
