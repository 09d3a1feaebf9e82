"""The tus Upload-Metadata header: comma-separated `key base64(value)` pairs, values optional.

What arrives here is client input and nothing more: the file name is kept for display only (the
part file on disk is named by the server) and the file type is a claim that validation ignores
in favour of probing the content.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
"""Keys the server reads are plain ASCII names; the spec forbids only spaces and commas."""

MAX_FILENAME_CHARS = 255
MAX_FILETYPE_CHARS = 100


class MetadataError(ValueError):
    """The header does not follow the tus format; the message names the pair at fault."""


def parse(header: str | None) -> dict[str, str | None]:
    """{key: decoded UTF-8 value or None for a key sent without a value}."""
    pairs: dict[str, str | None] = {}
    if not header or not header.strip():
        return pairs
    for item in header.split(","):
        key, _sep, encoded = item.strip().partition(" ")
        encoded = encoded.strip()
        if not KEY_RE.match(key):
            raise MetadataError(f"key {key[:64]!r} is not a plain name")
        if key in pairs:
            raise MetadataError(f"key {key!r} appears twice")
        if not encoded:
            pairs[key] = None
            continue
        try:
            pairs[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MetadataError(f"the value of {key!r} is not base64-encoded UTF-8") from None
    return pairs


def encode(pairs: dict[str, str | None]) -> str:
    """The header value for HEAD responses, which must repeat the metadata given at creation."""
    items = []
    for key, value in pairs.items():
        if value is None:
            continue
        items.append(f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}")
    return ",".join(items)


def clean_filename(name: str | None) -> str | None:
    """A file name fit to show and to offer as a download name: the last path component only,
    no control or bidi-override characters, NFC-normalised and bounded. None when nothing is left."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    # Cc: control characters; Cf: format characters such as U+202E, which can make
    # "evil\u202Efdp.exe" display as "evilexe.pdf".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = name.strip().strip(".").strip()
    if not name:
        return None
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def clean_filetype(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    return value[:MAX_FILETYPE_CHARS] if re.fullmatch(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+", value) else None
