"""OpenCATS tables as both sources give them: rows of raw bytes, and how to read their values.

A backup file and a live database hand over the same thing, a table of rows whose values are the
bytes OpenCATS stored (or None for NULL), so one mapping (migrators.opencats) serves both and both
give the same records. Text is decoded here, value by value: OpenCATS stored whatever the browser
sent, so one table can hold UTF-8 next to GBK.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import inputs

EMPTY = {"", "0", "(none)", "0000-00-00 00:00:00", "0000-00-00"}
"""Values OpenCATS writes for "nothing": its backup module and older forms store '0' in empty
text columns, and MySQL's zero date stands for no date."""


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[dict[str, bytes | None]] = field(default_factory=list)


class Text:
    """Decodes a row's values, remembering which encodings it met (for the report).

    The encoding is decided per row, on all its non-ASCII values together: a short GBK value
    (a two-character name) is often valid UTF-8 by accident, a whole row hardly ever."""

    def __init__(self):
        self.encodings: set[str] = set()

    def row(self, row: dict, columns) -> dict[str, str | None]:
        """The named values of a row as text (None for NULL); raises inputs.UnknownEncoding when
        they are neither UTF-8 nor GBK."""
        raw = {c: row.get(c) for c in columns}
        data = b"\n".join(v for v in raw.values() if isinstance(v, bytes) and any(b > 0x7F for b in v))
        encoding = "ascii"
        if data:
            encoding = inputs.decode(data, "row").encoding
            self.encodings.add(encoding)
        return {c: (v.decode(encoding) if isinstance(v, bytes) else v) for c, v in raw.items()}

    def __call__(self, value: bytes | str | None) -> str | None:
        return self.row({"value": value}, ("value",))["value"]


def meaningful(value: str | None) -> str | None:
    """A value with OpenCATS' placeholders for "nothing" turned into None, white space trimmed."""
    if value is None:
        return None
    value = value.strip()
    return None if value in EMPTY else value


def integer(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
