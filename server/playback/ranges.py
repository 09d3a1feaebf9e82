"""HTTP Range requests (RFC 9110 §14) for one resource of known length.

Only single byte ranges are served as 206. A request for several ranges is answered with the
whole body (200), which RFC 9110 allows and every media player copes with; a syntactically
broken Range header is ignored the same way (the RFC says to ignore an invalid header field),
while a well-formed range that lies wholly beyond the end is 416.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    start: int  # first byte, inclusive
    end: int  # last byte, exclusive

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, total: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{total}"


class Unsatisfiable(Exception):
    """The range lies wholly outside the resource: answer 416 with `Content-Range: bytes */total`."""


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """The range to serve, or None for the whole resource. Raises Unsatisfiable for 416."""
    if not header:
        return None
    if "," in header:
        return None  # several ranges: serve the whole body
    match = _RANGE_RE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        # Suffix range: the last N bytes.
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable()
        return ByteRange(max(0, total - suffix), total) if total else _unsatisfiable()
    start = int(first)
    if start >= total:
        raise Unsatisfiable()
    end = total if last == "" else min(int(last) + 1, total)
    if end <= start:
        return None  # last < first: invalid, ignored
    return ByteRange(start, end)


def _unsatisfiable():
    raise Unsatisfiable()
