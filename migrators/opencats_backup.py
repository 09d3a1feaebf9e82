"""Reading an OpenCATS backup file: the zip OpenCATS' own backup module writes.

Layout: `db/catsbackup.sql.0` (then `.1`, `.2` ... when the dump was split), SQL statements separated
by `((ENDOFQUERY))` and with every dot inside the data written as `_rDOTr` (OpenCATS' restore puts
them back the same way, on the whole text); `attachments/<directory_name>/<stored_filename>`.

Values stay bytes: the text of an OpenCATS database is whatever PHP sent, UTF-8 or not, and the
reader decides the encoding of each value (opencats_tables.decode_text). The tables come out in
the same shape as from a live database (opencats_live), so the mapping is the same for both.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from .opencats_tables import Table

STATEMENT_END = b"((ENDOFQUERY))"
DOT = b"_rDOTr"
SQL_PART = re.compile(r"^db/catsbackup\.sql\.(\d+)$")

CREATE = re.compile(rb"^\s*CREATE\s+TABLE\s+`?(\w+)`?\s*\((.*)\)[^)]*$", re.S | re.I)
COLUMN = re.compile(rb"^\s*`(\w+)`\s+\w", re.M)
INSERT = re.compile(rb"^\s*INSERT\s+INTO\s+`?(\w+)`?\s*(?:\(([^)]*)\))?\s*VALUES\s*", re.S | re.I)
VALUE = re.compile(rb"\s*(?:'((?:[^'\\]|\\.|'')*)'|(NULL)|([-+0-9.eE]+))\s*", re.S | re.I)
ESCAPES = {b"0": b"\x00", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"Z": b"\x1a", b"b": b"\b"}
ESCAPE = re.compile(rb"\\(.)|''", re.S)


class BackupError(ValueError):
    """The file is not an OpenCATS backup, or its SQL cannot be read."""


def is_backup(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(SQL_PART.match(name) for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_tables(path: Path) -> dict[str, Table]:
    """Every table of the backup with its rows. Statements that are neither CREATE TABLE nor
    INSERT (DROP TABLE, SET ...) carry no data and are skipped."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"{path}: not a zip file ({exc})") from exc
    with archive:
        parts = sorted((int(m.group(1)), name) for name in archive.namelist() if (m := SQL_PART.match(name)))
        if not parts:
            raise BackupError(f"{path}: no db/catsbackup.sql.0 inside; not an OpenCATS backup")
        text = b"".join(archive.read(name) for _, name in parts)
    tables: dict[str, Table] = {}
    for number, statement in enumerate(text.replace(DOT, b".").split(STATEMENT_END)):
        if (create := CREATE.match(statement)) is not None:
            name = create.group(1).decode()
            tables[name] = Table(name, [c.decode() for c in COLUMN.findall(create.group(2))], [])
        elif (insert := INSERT.match(statement)) is not None:
            name = insert.group(1).decode()
            table = tables.get(name)
            columns = ([c.strip(b" `\n").decode() for c in insert.group(2).split(b",")] if insert.group(2)
                       else table.columns if table is not None else None)
            if columns is None:
                raise BackupError(f"statement {number + 1}: INSERT INTO {name} before its CREATE TABLE and without a column list")
            if table is None:
                table = tables[name] = Table(name, columns, [])
            for values in _tuples(statement, insert.end(), name, number):
                if len(values) != len(columns):
                    raise BackupError(f"statement {number + 1} (INSERT INTO {name}): a row of {len(values)} values for {len(columns)} columns")
                table.rows.append(dict(zip(columns, values)))
    return tables


def _tuples(statement: bytes, position: int, name: str, number: int):
    """The value tuples of one INSERT: ('a','b\\'c',NULL,3),(...)."""
    end = len(statement.rstrip(b" \t\r\n;"))
    while position < end:
        if statement[position:position + 1] != b"(":
            raise BackupError(f"statement {number + 1} (INSERT INTO {name}): expected '(' at byte {position}")
        position += 1
        values: list[bytes | None] = []
        while True:
            match = VALUE.match(statement, position)
            if match is None:
                raise BackupError(f"statement {number + 1} (INSERT INTO {name}): unreadable value at byte {position}")
            quoted, null, number_text = match.groups()
            values.append(None if null else _unescape(quoted) if quoted is not None else number_text)
            position = match.end()
            separator = statement[position:position + 1]
            position += 1
            if separator == b")":
                break
            if separator != b",":
                raise BackupError(f"statement {number + 1} (INSERT INTO {name}): expected ',' or ')' at byte {position - 1}")
        yield values
        while position < end and statement[position:position + 1] in b" \t\r\n,":
            position += 1


def _unescape(value: bytes) -> bytes:
    return ESCAPE.sub(lambda m: b"'" if m.group(0) == b"''" else ESCAPES.get(m.group(1), m.group(1)), value)


def attachment_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return {name for name in archive.namelist() if name.startswith("attachments/") and not name.endswith("/")}


def extract_attachment(path: Path, member: str, workdir: Path) -> Path:
    """One attachment out of the zip into the run's work directory (only when it is needed)."""
    target = workdir / "opencats" / member
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as archive, archive.open(member) as source, open(target, "wb") as out:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)
    return target
