"""Typed fields of API request bodies.

Each field both checks a JSON value and describes itself as a JSON Schema, so the validation the
server performs and the OpenAPI document it publishes come from the same declaration and cannot
drift apart. Cross-object checks (does this department exist, may the caller see it) need the
database and the caller, so they stay in the resource modules; fields only answer "is this value
well-formed".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import request

from ..errors import ValidationError
from ..i18n import _

MAX_ID = 2**31 - 1
"""Largest id a row can have: primary keys are 32-bit integers on PostgreSQL, and a larger value
in a query is a database error rather than "no such row"."""

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body the API reads; its JSON documents are small."""

# C0 and C1 control characters: invisible in every UI, and NUL cannot even be stored by PostgreSQL.
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
# Multi-line text keeps tab, line feed and carriage return.
_CONTROL_MULTILINE = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"

_RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_EMAIL = re.compile(f"^[^@\\s{_CONTROL}]+@[^@\\s{_CONTROL}]+\\.[^@\\s{_CONTROL}]+$")


def invalid(name: str, message: str, field: str | None = None) -> ValidationError:
    """The API's 400: the English field name, then the translated reason."""
    return ValidationError(f"{name}: {message}", field=field or name)


class Field:
    """One member of a request body.

    required: must be present when creating.
    nullable: JSON null is accepted (and clears the value).
    immutable: may be given when creating but not changed afterwards.
    """

    def __init__(self, description: str, *, required: bool = False, nullable: bool = False, immutable: bool = False):
        self.description = description
        self.required = required
        self.nullable = nullable
        self.immutable = immutable

    def parse(self, name: str, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise invalid(name, _("must not be null"))
        return self.check(name, value)

    def check(self, name: str, value: Any) -> Any:  # pragma: no cover - every field overrides it
        raise NotImplementedError

    def schema(self) -> dict:
        own = self.value_schema()
        if self.nullable:
            own = {**own, "type": [own["type"], "null"]}
            if "enum" in own:
                own["enum"] = [*own["enum"], None]
        return {**own, "description": self.description}

    def value_schema(self) -> dict:  # pragma: no cover - every field overrides it
        raise NotImplementedError


class Text(Field):
    """A string that must contain something visible, stored without surrounding whitespace."""

    def __init__(self, description: str, *, max_length: int, multiline: bool = False, **kwargs):
        super().__init__(description, **kwargs)
        self.max_length = max_length
        controls = _CONTROL_MULTILINE if multiline else _CONTROL
        self.pattern = f"^[^{controls}]*[^\\s{_CONTROL}][^{controls}]*$"
        self._controls = re.compile(f"[{controls}]")

    def check(self, name: str, value: Any, field: str | None = None) -> str:
        if not isinstance(value, str):
            raise invalid(name, _("expected a string"), field)
        if len(value) > self.max_length:
            # Measured before stripping, as the published maxLength is.
            raise invalid(name, _("at most %(count)d characters", count=self.max_length), field)
        if self._controls.search(value):
            raise invalid(name, _("must not contain control characters"), field)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
            raise invalid(name, _("is not valid Unicode text"), field) from None
        value = value.strip()
        if not value:
            raise invalid(name, _("must not be empty"), field)
        return value

    def value_schema(self) -> dict:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length, "pattern": self.pattern}


class Email(Field):
    MAX_LENGTH = 254  # RFC 5321's limit for a forward path

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise invalid(name, _("expected a string"))
        if len(value) > self.MAX_LENGTH:
            raise invalid(name, _("at most %(count)d characters", count=self.MAX_LENGTH))
        # Not stripped: an address with spaces is not an address.
        if not _EMAIL.match(value):
            raise invalid(name, _("not an e-mail address"))
        return value

    def value_schema(self) -> dict:
        return {"type": "string", "format": "email", "maxLength": self.MAX_LENGTH}


class Phone(Text):
    PATTERN = r"^[0-9+()./ -]*[0-9][0-9+()./ -]*$"

    def __init__(self, description: str, **kwargs):
        super().__init__(description, max_length=50, **kwargs)
        self.pattern = self.PATTERN

    def check(self, name: str, value: Any, field: str | None = None) -> str:
        if isinstance(value, str) and not re.match(self.PATTERN, value):
            raise invalid(name, _("only digits, spaces and + - ( ) . / are allowed, with at least one digit"), field)
        return super().check(name, value, field)


class Boolean(Field):
    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise invalid(name, _("expected true or false"))
        return value

    def value_schema(self) -> dict:
        return {"type": "boolean"}


class Choice(Field):
    def __init__(self, description: str, choices: tuple[str, ...], **kwargs):
        super().__init__(description, **kwargs)
        self.choices = choices

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise invalid(name, _("expected one of %(choices)s", choices=", ".join(self.choices)))
        return value

    def value_schema(self) -> dict:
        return {"type": "string", "enum": list(self.choices)}


def check_id(name: str, value: Any, field: str | None = None) -> int:
    # bool is an int subclass in Python, but `true` is not an id.
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(name, _("expected an integer id"), field)
    return value


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class Reference(Field):
    """The id of another object; whether it exists and is visible is the resource's business."""

    def check(self, name: str, value: Any) -> int:
        return check_id(name, value)

    def value_schema(self) -> dict:
        return dict(ID_SCHEMA)


class ReferenceList(Field):
    def __init__(self, description: str, *, max_items: int, **kwargs):
        super().__init__(description, **kwargs)
        self.max_items = max_items

    def check(self, name: str, value: Any) -> list[int]:
        if not isinstance(value, list):
            raise invalid(name, _("expected a list of ids"))
        if len(value) > self.max_items:
            raise invalid(name, _("at most %(count)d items", count=self.max_items))
        ids = [check_id(f"{name}[{i}]", item, name) for i, item in enumerate(value)]
        if len(set(ids)) != len(ids):
            raise invalid(name, _("ids must not repeat"))
        return ids

    def value_schema(self) -> dict:
        return {"type": "array", "items": dict(ID_SCHEMA), "maxItems": self.max_items, "uniqueItems": True}


class TextList(Field):
    def __init__(self, description: str, *, item: Text, max_items: int, **kwargs):
        super().__init__(description, **kwargs)
        self.item = item
        self.max_items = max_items

    def check(self, name: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise invalid(name, _("expected a list of strings"))
        if len(value) > self.max_items:
            raise invalid(name, _("at most %(count)d items", count=self.max_items))
        return [self.item.check(f"{name}[{i}]", item, name) for i, item in enumerate(value)]

    def value_schema(self) -> dict:
        return {"type": "array", "items": self.item.value_schema(), "maxItems": self.max_items}


class Integer(Field):
    """A whole number within [minimum, maximum]."""

    def __init__(self, description: str, *, minimum: int, maximum: int, **kwargs):
        super().__init__(description, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def check(self, name: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not self.minimum <= value <= self.maximum:
            raise invalid(name, _("expected a whole number from %(low)d to %(high)d", low=self.minimum, high=self.maximum))
        return value

    def value_schema(self) -> dict:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


class Seconds(Field):
    """A time in a recording, in seconds from its start (whether it lies inside the recording is
    the resource's business: only it knows the recording's length)."""

    MAXIMUM = 10 * 24 * 3600

    def check(self, name: str, value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= self.MAXIMUM:
            raise invalid(name, _("expected a number of seconds from the start of the recording"))
        return float(value)

    def value_schema(self) -> dict:
        return {"type": "number", "minimum": 0, "maximum": self.MAXIMUM}


class DateTime(Field):
    """An RFC 3339 timestamp with an offset, stored as naive UTC like every datetime in the models."""

    def check(self, name: str, value: Any) -> dt.datetime:
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise invalid(name, _("expected a date and time with a UTC offset, e.g. 2025-03-01T14:00:00Z"))
        try:
            parsed = dt.datetime.fromisoformat(value.upper())
            return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):  # 25 o'clock, 30 February, or year 0 after the offset
            raise invalid(name, _("not a valid date and time")) from None

    def value_schema(self) -> dict:
        return {"type": "string", "format": "date-time"}


def json_body() -> Any:
    """The request's JSON document, whatever its Content-Type says; 400 when it is not JSON."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise invalid("body", _("not a JSON document")) from None


def parse_body(fields: dict[str, Field], *, creating: bool) -> dict[str, Any]:
    """Check the body against `fields`: all of them when creating, the ones sent when updating."""
    data = json_body()
    if not isinstance(data, dict):
        raise invalid("body", _("expected a JSON object"))
    for name in data:
        if name not in fields:
            shown = name if len(name) <= 64 else name[:64] + "…"
            raise invalid(shown, _("unknown field"))
        if not creating and fields[name].immutable:
            raise invalid(name, _("cannot be changed after creation"))
    if creating:
        for name, field in fields.items():
            if field.required and name not in data:
                raise invalid(name, _("required"))
    return {name: fields[name].parse(name, value) for name, value in data.items()}


def body_schema(fields: dict[str, Field], *, creating: bool) -> dict:
    """The JSON Schema of a request body built from `fields`."""
    properties = {name: field.schema() for name, field in fields.items() if creating or not field.immutable}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, field in fields.items() if creating and field.required]
    if required:
        schema["required"] = required
    return schema
