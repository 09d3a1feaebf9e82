"""Reading what legacy exports are made of: text files in an unknown encoding, CSV with Windows
line ends, dates written three ways, times in the office's time zone. Readers use these so every
migrator detects and reports the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ENCODINGS = ("utf-8", "gbk", "gb18030")
"""Tried in this order after a BOM check. UTF-8 first: GBK text is almost never valid UTF-8, while
UTF-8 text is often valid GBK. GB18030 (a superset of GBK) catches rarer characters."""

CONTROL_OK = {"\t", "\n", "\r", "\f"}


class UnknownEncoding(ValueError):
    """The bytes are neither UTF-8 nor GBK/GB18030 text."""


@dataclass(frozen=True)
class Text:
    text: str
    encoding: str  # "utf-8", "utf-8-sig", "gbk", "gb18030"


def decode(data: bytes, name: str = "") -> Text:
    """Decode bytes of unknown encoding; raise UnknownEncoding when none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnknownEncoding(f"{name or 'file'}: UTF-16 text (save it as UTF-8 or GBK)")
    else:
        candidates = ENCODINGS
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Binary data can decode as GBK by accident; real text has no control characters.
        if any(unicodedata.category(ch) == "Cc" and ch not in CONTROL_OK for ch in text):
            continue
        return Text(text, encoding)
    raise UnknownEncoding(f"{name or 'file'}: neither UTF-8 nor GBK text")


def read_text(path: Path) -> Text:
    return decode(Path(path).read_bytes(), Path(path).name)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number, {column: value}); values stripped of \r
    encoding: str


def read_csv(path: Path, required: tuple[str, ...] = ()) -> Table:
    """A CSV file with a header row, in UTF-8 or GBK, CRLF or LF. Values keep inner spaces (they
    may matter: an e-mail with a trailing space is still that e-mail) but lose a stray \\r.
    Raises UnknownEncoding, or ValueError when a required column is missing."""
    decoded = read_text(path)
    reader = csv.reader(io.StringIO(decoded.text, newline=""))
    rows = list(reader)
    if not rows:
        return Table([], [], decoded.encoding)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{Path(path).name}: missing column(s) {', '.join(missing)}")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {name: (row[i].rstrip("\r") if i < len(row) else "") for i, name in enumerate(header)}
        if len(row) > len(header):
            values["__extra__"] = ",".join(row[len(header):])
        out.append((number, values))
    return Table(header, out, decoded.encoding)


# --- dates ----------------------------------------------------------------------------------------

_DATE_PATTERNS = (
    # 2023-05-06 14:30:00, 2023/5/6 14:30, 2023.5.6, 2023-05-06T14:30, 2022/2/14 15:4
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?$"),
    # 2023年5月6日, 2023年5月6日 14:30, 2023年5月6日14时30分
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[:时點点](\d{1,2})分?(?:[:](\d{1,2})秒?)?)?$"),
    # 20230506 or 20230506 143000
    re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\s*(\d{2})(\d{2})(\d{2})?)?$"),
)


def parse_datetime(text: str | None) -> dt.datetime | None:
    """A date or date-time in any of the formats legacy exports mix; None for an empty value.
    Raises ValueError for a value that is not a date (the reader reports it and keeps the row)."""
    if text is None:
        return None
    value = unicodedata.normalize("NFKC", text).strip()
    if not value:
        return None
    for pattern in _DATE_PATTERNS:
        match = pattern.match(value)
        if match:
            year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
            return dt.datetime(year, month, day, hour, minute, second)  # ValueError for 2023-02-30
    raise ValueError(f"not a date: {text!r}")


def parse_timezone(name: str) -> dt.tzinfo:
    """"UTC", "+08:00" / "-0530", or an IANA name ("Asia/Shanghai")."""
    value = (name or "UTC").strip()
    if value.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    match = re.match(r"^([+-])(\d{1,2}):?(\d{2})?$", value)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        offset = dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return dt.timezone(sign * offset)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use UTC, an offset like +08:00, or a name like Asia/Shanghai") from None


def to_utc(value: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A source's naive local time as the naive UTC time TalentReel stores."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def clean(value: str | None) -> str | None:
    """A cell's value without surrounding white space; None when nothing is left."""
    if value is None:
        return None
    value = value.strip()
    return value or None
