"""Finding the same person under several legacy ids.

Candidates are compared on normalised keys: phone (digits only, without the +86 / 0086 country
prefix), e-mail (trimmed, lower case) and name (Unicode NFKC, inner white space collapsed, case
folded). A rule is a set of keys that must all be present and equal, e.g. ``phone+name``; two
candidates are the same person when any rule matches, and sameness is transitive (A~B and B~C put
A, B and C together). The default rules need two of the three keys to agree, so neither a shared
family phone nor a namesake merges two people on its own.

The survivor of a group is its earliest-created candidate (then the first in the source); the
others are merged into it, each decision kept with the rule and keys that made it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

KEYS = ("phone", "email", "name")

DEFAULT_RULES: tuple[frozenset[str], ...] = (
    frozenset({"phone", "name"}),
    frozenset({"email", "name"}),
    frozenset({"phone", "email"}),
)

DEFAULT_COUNTRY_CODE = "86"


def parse_rules(text: str | Sequence[str] | None) -> tuple[frozenset[str], ...]:
    """"phone+name,email+name" (or a list of such) -> rules; "none" or "" turns dedup off;
    None gives the defaults. Raises ValueError naming an unknown key."""
    if text is None:
        return DEFAULT_RULES
    parts = [p for chunk in ([text] if isinstance(text, str) else text) for p in str(chunk).split(",")]
    rules = []
    for part in (p.strip() for p in parts):
        if not part or part.lower() == "none":
            continue
        keys = frozenset(k.strip().lower() for k in part.split("+") if k.strip())
        unknown = keys - set(KEYS)
        if unknown or not keys:
            raise ValueError(f"dedup rule {part!r}: keys are {', '.join(KEYS)} joined by '+'")
        rules.append(keys)
    return tuple(rules)


def rules_text(rules: Iterable[frozenset[str]]) -> list[str]:
    return ["+".join(k for k in KEYS if k in rule) for rule in rules]


def normal_phone(value: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str | None:
    """+86 138-0013-8000, 0086 13800138000, (138) 0013 8000 -> 13800138000."""
    if not value:
        return None
    value = unicodedata.normalize("NFKC", value)
    digits = re.sub(r"\D", "", value)
    if not digits:
        return None
    international = value.strip().startswith("+") or digits.startswith("00")
    digits = digits[2:] if digits.startswith("00") else digits
    if country_code and digits.startswith(country_code) and (international or len(digits) > 11):
        digits = digits[len(country_code):]
    return digits or None


def normal_email(value: str | None) -> str | None:
    if not value:
        return None
    value = unicodedata.normalize("NFKC", value).strip().lower()
    return value or None


def normal_name(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
    return value or None


def keys_of(phone: str | None, email: str | None, name: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> dict[str, str | None]:
    return {"phone": normal_phone(phone, country_code), "email": normal_email(email), "name": normal_name(name)}


@dataclass
class Person:
    """One candidate as dedup sees it: an id, its normalised keys and its order of precedence."""

    ref: str  # legacy id, or "#<id>" for a candidate already in TalentReel
    keys: dict[str, str | None]
    rank: tuple = ()  # smaller wins survivorship


@dataclass
class Merge:
    duplicate: str
    into: str
    rule: str
    keys: dict[str, str] = field(default_factory=dict)  # the agreeing normalised values


def matching_rule(a: Person, b: Person, rules) -> str | None:
    for rule in rules:
        if all(a.keys.get(k) and a.keys.get(k) == b.keys.get(k) for k in rule):
            return "+".join(k for k in KEYS if k in rule)
    return None


SOURCE_RULE = "marked duplicate in the source"
"""The rule of a merge the source system decided itself (e.g. OpenCATS' candidate_duplicates)."""


def group(people: Sequence[Person], rules, links: Iterable[tuple[str, str]] = ()) -> list[Merge]:
    """Merge decisions for people matching under the rules: each duplicate names its group's
    survivor and the rule that tied it to the group (to the survivor when that matches directly).
    `links` are pairs of refs the source marks as the same person; they join groups like a rule.
    Indexes by each rule's key tuple, so the work grows with the number of people, not its square."""
    parent = {p.ref: p.ref for p in people}
    link_rule: dict[tuple[str, str], str] = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rule in rules:
        index: dict[tuple, str] = {}
        ordered_keys = [k for k in KEYS if k in rule]
        for person in people:
            values = tuple(person.keys.get(k) for k in ordered_keys)
            if not all(values):
                continue
            other = index.setdefault(values, person.ref)
            if other != person.ref:
                link_rule.setdefault((other, person.ref), "+".join(ordered_keys))
                ra, rb = find(other), find(person.ref)
                if ra != rb:
                    parent[rb] = ra
    source_links = set()
    for a, b in links:
        if a in parent and b in parent and a != b:
            source_links.add(frozenset((a, b)))
            link_rule.setdefault((a, b), SOURCE_RULE)
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra
    by_ref = {p.ref: p for p in people}
    groups: dict[str, list[Person]] = {}
    for person in people:
        groups.setdefault(find(person.ref), []).append(person)
    merges = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda p: p.rank)
        survivor = members[0]
        for person in members[1:]:
            rule = matching_rule(survivor, person, rules)
            if rule is None and frozenset((survivor.ref, person.ref)) in source_links:
                rule = SOURCE_RULE
            if rule is None:  # tied through a third member: name the link that joined it
                rule = next((r for (a, b), r in link_rule.items() if person.ref in (a, b)), "transitive")
                rule = f"{rule} (via another duplicate)"
            agreeing = {k: v for k, v in person.keys.items() if v and by_ref[survivor.ref].keys.get(k) == v}
            merges.append(Merge(person.ref, survivor.ref, rule, agreeing))
    merges.sort(key=lambda m: by_ref[m.duplicate].rank)
    return merges
