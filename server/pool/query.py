"""The talent pool query language, parsed into a tree; nothing here touches the database.

    negotiation>=0.6 AND (模拟谈判 OR cross_cultural) NOT dept:技术部 "full price" after:2026-01-01

- a bare word is a tag (its name, a label in zh or en, or a synonym): `negotiation`, `沟通能力`;
  `tag:"customer negotiation"` names one with spaces;
- `TAG>=0.6` (also `>`, `<=`, `<`, `=`) is a tag with a score threshold, scores being 0..1;
- a quoted phrase or `text:word` searches the transcripts: every word in one passage;
- `dept:NAME`, `opening:ID` or `opening:"title words"`, `after:YYYY-MM-DD`, `before:YYYY-MM-DD`
  (interview dates) filter;
- terms side by side mean AND; `AND`, `OR`, `NOT` (any case) and parentheses combine them, NOT
  binding tightest, then AND, then OR.

Errors name the problem and where it is (QueryError, a ValidationError of the field `q`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from ..errors import ValidationError
from ..i18n import _

MAX_QUERY_CHARS = 500
MAX_TERMS = 24
"""A query is typed by a person; anything longer is a mistake or an attempt to load the server."""

OPERATORS = {"AND", "OR", "NOT"}
FIELDS = {"tag", "text", "dept", "department", "opening", "after", "before"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
COMPARISON = re.compile(r"^(?P<name>[^<>=]+?)(?P<op>>=|<=|>|<|=)(?P<value>[^<>=]*)$")


class QueryError(ValidationError):
    def __init__(self, message: str):
        super().__init__(message, field="q")


# --- the tree -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagTerm:
    name: str
    op: str | None = None  # None: any score
    value: float | None = None


@dataclass(frozen=True)
class TextTerm:
    text: str


@dataclass(frozen=True)
class FieldTerm:
    field: str  # dept | opening | after | before
    value: str
    date: dt.date | None = None


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass
class Query:
    text: str
    tree: object
    terms: list = field(default_factory=list)  # the leaves, in order

    def positive_leaves(self, kind) -> list:
        """Leaves of `kind` that are not under a NOT: what a hit is shown for."""
        out = []

        def walk(node, negated):
            if isinstance(node, Not):
                walk(node.child, not negated)
            elif isinstance(node, (And, Or)):
                for child in node.children:
                    walk(child, negated)
            elif isinstance(node, kind) and not negated:
                out.append(node)

        walk(self.tree, False)
        return out


# --- scanning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" | ")" | "op" | "word"
    text: str  # the word with quotes removed
    position: int  # 1-based column, for messages
    quoted_from: int = -1  # index in text where the first quoted part starts, -1 if none
    only_quoted: bool = False  # the whole word was one quoted phrase


def _scan(text: str) -> list[_Token]:
    tokens, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in "()（）":
            tokens.append(_Token("(" if char in "(（" else ")", char, i + 1))
            i += 1
            continue
        start, parts, quoted_from, plain = i, [], -1, False
        while i < n and not text[i].isspace() and text[i] not in "()（）":
            if text[i] in "\"“”":
                close = _closing_quote(text, i + 1)
                if close < 0:
                    raise QueryError(_("The quote at position %(pos)d is never closed.", pos=i + 1))
                if quoted_from < 0:
                    quoted_from = len("".join(parts))
                parts.append(text[i + 1:close])
                i = close + 1
            else:
                parts.append(text[i])
                plain = True
                i += 1
        word = "".join(parts)
        if quoted_from < 0 and word.upper() in OPERATORS:
            tokens.append(_Token("op", word.upper(), start + 1))
        else:
            tokens.append(_Token("word", word, start + 1, quoted_from, quoted_from == 0 and not plain))
    return tokens


def _closing_quote(text: str, start: int) -> int:
    for j in range(start, len(text)):
        if text[j] in "\"“”":
            return j
    return -1


# --- parsing ------------------------------------------------------------------------------------


def parse(text: str) -> Query:
    text = (text or "").strip()
    if not text:
        raise QueryError(_("The query is empty: name a tag, a quoted phrase or a filter."))
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_("The query is longer than %(max)d characters.", max=MAX_QUERY_CHARS))
    if CONTROL.search(text):
        raise QueryError(_("The query contains control characters."))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        raise QueryError(_("The query is not valid Unicode text.")) from None
    parser = _Parser(_scan(text))
    tree = parser.expression()
    if parser.peek() is not None:
        token = parser.peek()
        if token.kind == ")":
            raise QueryError(_("The ')' at position %(pos)d has no matching '('.", pos=token.position))
        raise QueryError(_("Unexpected “%(text)s” at position %(pos)d.", text=token.text, pos=token.position))
    if len(parser.leaves) > MAX_TERMS:
        raise QueryError(_("The query has %(count)d terms; at most %(max)d are allowed.", count=len(parser.leaves), max=MAX_TERMS))
    return Query(text, tree, parser.leaves)


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens, self.index, self.leaves = tokens, 0, []

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expression(self):
        children = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            children.append(self.conjunction())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def conjunction(self):
        children = [self.negation()]
        while (token := self.peek()) is not None and not (token.kind == ")" or (token.kind == "op" and token.text == "OR")):
            if token.kind == "op" and token.text == "AND":
                self.take()
            children.append(self.negation())
        return children[0] if len(children) == 1 else And(tuple(children))

    def negation(self):
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == "NOT":
            self.take()
            return Not(self.negation())
        return self.atom()

    def atom(self):
        token = self.peek()
        if token is None:
            previous = self.tokens[self.index - 1] if self.index else None
            if previous is not None and previous.kind == "op":
                raise QueryError(_("%(op)s at position %(pos)d needs a term after it.", op=previous.text, pos=previous.position))
            raise QueryError(_("The query ends where a term was expected (is a ')' missing?)."))
        if token.kind == "op":
            raise QueryError(_("%(op)s at position %(pos)d needs a term before it.", op=token.text, pos=token.position))
        if token.kind == ")":
            raise QueryError(_("The ')' at position %(pos)d has no matching '(' or closes an empty group.", pos=token.position))
        self.take()
        if token.kind == "(":
            inner = self.expression()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError(_("The '(' at position %(pos)d is never closed.", pos=token.position))
            self.take()
            return inner
        leaf = _leaf(token)
        self.leaves.append(leaf)
        return leaf


def _leaf(token: _Token):
    word, quoted_from = token.text, token.quoted_from
    if token.only_quoted:  # "a phrase" ("a tag">=0.5 is a tag with spaces, handled below)
        return _text(word, token)
    unquoted = word if quoted_from < 0 else word[:quoted_from]
    if ":" in unquoted:
        key, _sep, value = word.partition(":")
        key = key.lower()
        if key not in FIELDS:
            raise QueryError(_("Unknown filter “%(key)s:” at position %(pos)d; use tag:, text:, dept:, opening:, after: or before:.",
                               key=key, pos=token.position))
        if key == "text":
            return _text(value, token)
        if key == "tag":
            return _tag(value, token)
        if not value.strip():
            raise QueryError(_("“%(key)s:” at position %(pos)d needs a value.", key=key, pos=token.position))
        if key in ("after", "before"):
            try:
                return FieldTerm(key, value, dt.date.fromisoformat(value.strip()))
            except ValueError:
                raise QueryError(_("“%(value)s” at position %(pos)d is not a date; write YYYY-MM-DD.", value=value, pos=token.position)) from None
        return FieldTerm("dept" if key == "department" else key, value.strip())
    return _tag(word, token)


def _text(value: str, token: _Token) -> TextTerm:
    if not value.strip():
        raise QueryError(_("The phrase at position %(pos)d is empty.", pos=token.position))
    return TextTerm(value.strip())


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _tag(word: str, token: _Token) -> TagTerm:
    match = COMPARISON.match(word)
    if match:
        value = _number(match["value"].strip())
        if value is None or not 0 <= value <= 1:
            raise QueryError(_("The score in “%(term)s” at position %(pos)d must be a number from 0 to 1.", term=word, pos=token.position))
        name = match["name"].strip()
        if not name:
            raise QueryError(_("“%(term)s” at position %(pos)d has no tag before the comparison.", term=word, pos=token.position))
        return TagTerm(name, match["op"], value)
    if not word.strip():
        raise QueryError(_("The tag at position %(pos)d is empty.", pos=token.position))
    return TagTerm(word.strip())
