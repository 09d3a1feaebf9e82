"""Validation of posted forms, field by field.

A `Submission` wraps the posted form: each reader (`text`, `email`, `choice`, ...) returns the
cleaned value or records a message for that field, so a page can re-render with every problem
next to its field and everything the user typed kept (`raw`, `raw_list`). Messages are translated
when recorded, inside the request, so they follow the user's locale.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

from flask_babel import to_utc

from ..i18n import _

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()\-.]+$")
PHONE_DIGITS = (5, 20)  # shortest extension to longest international number, with margin
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")  # datetime-local, and typed by hand
TEXT_MAX = 200  # CharFields are varchar(255); leave room and keep lists readable
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Typed text without control characters (nobody types them; PostgreSQL refuses NUL outright),
    line breaks kept."""
    return CONTROL_CHARS.sub("", value or "")


class Submission:
    def __init__(self, form: Mapping[str, Any] | None = None):
        self.form = form if form is not None else {}
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)  # the first problem found is the one to fix first

    def raw(self, name: str) -> str:
        return clean_text(self.form.get(name)).strip()

    def raw_text(self, name: str) -> str:
        """A text area's content as typed, line breaks and indentation kept."""
        return clean_text(self.form.get(name))

    def raw_list(self, name: str) -> list[str]:
        getlist = getattr(self.form, "getlist", None)
        return [clean_text(v) for v in (getlist(name) if getlist else [])]

    def text(self, name: str, *, required: bool = False, missing: str | None = None, max_length: int = TEXT_MAX) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, missing or _("This field is required."))
            return None
        if len(value) > max_length:
            self.fail(name, _("At most %(count)d characters, please.", count=max_length))
            return None
        return value

    def email(self, name: str) -> str | None:
        value = self.text(name, max_length=254)
        if value is not None and not EMAIL_RE.match(value):
            self.fail(name, _("This is not an e-mail address (expected something like name@example.com)."))
            return None
        return value

    def phone(self, name: str) -> str | None:
        value = self.text(name, max_length=40)
        if value is None:
            return None
        digits = sum(ch.isdigit() for ch in value)
        if not PHONE_RE.match(value) or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
            self.fail(name, _("Enter a phone number: digits, optionally with +, spaces, dashes or brackets."))
            return None
        return value

    def choice(self, name: str, options: Mapping[str, Any], *, required: bool = True, missing: str | None = None):
        """One of `options` (keyed by the submitted value, e.g. str(id)); a stale or forged value is refused."""
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, missing or _("Choose one."))
            return None
        if value not in options:
            self.fail(name, _("This choice is not available any more; choose again."))
            return None
        return options[value]

    def choices(self, name: str, options: Mapping[str, Any]) -> list[Any]:
        values = self.raw_list(name)
        unknown = [v for v in values if v not in options]
        if unknown:
            self.fail(name, _("Some of the chosen entries are not available any more; choose again."))
            return []
        return [options[v] for v in dict.fromkeys(values)]

    def moment(self, name: str, *, required: bool = True) -> dt.datetime | None:
        """A date and time typed in the user's time zone, returned as naive UTC like every stored time."""
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, _("Enter a date and time."))
            return None
        for pattern in DATETIME_FORMATS:
            try:
                local = dt.datetime.strptime(value, pattern)
            except ValueError:
                continue
            return to_utc(local)
        self.fail(name, _("Enter a date and time like 2025-03-14 09:30."))
        return None

    def lines(self, name: str, *, max_lines: int = 100, max_length: int = 1000) -> list[str]:
        """Non-empty lines of a text area, one entry each (e.g. interview questions)."""
        lines = [line.strip() for line in self.raw_text(name).splitlines() if line.strip()]
        if len(lines) > max_lines:
            self.fail(name, _("At most %(count)d lines, please.", count=max_lines))
        elif any(len(line) > max_length for line in lines):
            self.fail(name, _("Each line may have at most %(count)d characters.", count=max_length))
        return lines
