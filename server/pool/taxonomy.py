"""The tag taxonomy HR edits: tags, their labels in zh and en, synonyms, renames and merges.

History is never rewritten. A rename keeps the old name as a synonym; a merge only points the
merged tag at the one it joins (`merged_into`), leaving every candidate tag and evidence moment
where it was. Searching for any name a tag ever had, or for a tag merged away, resolves to the
surviving tag and reaches the candidates of the whole family, so saved searches keep working.
"""

from __future__ import annotations

import peewee as pw

from .. import audit
from .. import models as m
from .. import statements
from ..errors import ValidationError
from ..i18n import _

MAX_MERGE_DEPTH = 32
"""A merged_into chain longer than this is a loop someone made in the database by hand."""


def canonical(tag: m.Tag) -> m.Tag:
    seen = 0
    while tag.merged_into_id is not None and seen < MAX_MERGE_DEPTH:
        tag = m.Tag.get_by_id(tag.merged_into_id)
        seen += 1
    return tag


def find_tag(organisation_id: int, name: str) -> m.Tag | None:
    """The surviving tag a name means: a tag's name, English or Chinese label, or synonym
    (case-insensitive), followed through merges."""
    return find_tags(organisation_id, [name]).get(name)


def find_tags(organisation_id: int, names) -> dict[str, m.Tag | None]:
    """find_tag for several names at once (a search's terms): the names and labels in one
    statement, synonyms in a second only for names still unknown. A name matches a tag's name
    before any label; among labels an unmerged tag first, then the oldest."""
    wanted = {name: (name or "").strip().lower() for name in names}
    keys = sorted({w for w in wanted.values() if w})
    found: dict[str, m.Tag] = {}
    if keys:
        # Every search runs this: rendered once per number of names (statements.py).
        rows = statements.models(m.Tag, ("find_tags", len(keys)), lambda: (
            m.Tag.select().where((m.Tag.organisation == organisation_id)
                                 & (pw.fn.LOWER(m.Tag.name).in_(keys) | pw.fn.LOWER(m.Tag.label_en).in_(keys)
                                    | pw.fn.LOWER(m.Tag.label_zh).in_(keys))).order_by(m.Tag.id)),
            (organisation_id, *keys, *keys, *keys))
        by_label: dict[str, m.Tag] = {}
        for tag in sorted(rows, key=lambda t: (t.merged_into_id is not None, t.id)):
            for text in (tag.label_en, tag.label_zh):
                if text and text.lower() in keys:
                    by_label.setdefault(text.lower(), tag)
        for tag in rows:
            if tag.name.lower() in keys:
                found.setdefault(tag.name.lower(), tag)
        for key, tag in by_label.items():
            found.setdefault(key, tag)
        unknown = [k for k in keys if k not in found]
        if unknown:
            synonyms = (m.TagSynonym.select(m.TagSynonym, m.Tag).join(m.Tag)
                        .where((m.Tag.organisation == organisation_id) & pw.fn.LOWER(m.TagSynonym.text).in_(unknown))
                        .order_by(m.TagSynonym.id))
            for synonym in synonyms:
                found.setdefault(synonym.text.lower(), synonym.tag)
    return {name: canonical(found[key]) if key in found else None for name, key in wanted.items()}


def family_ids(tag: m.Tag) -> list[int]:
    """The tag and every tag merged into it, directly or through others."""
    return families([tag])[tag.id]


def families(tags) -> dict[int, list[int]]:
    """family_ids of several tags, one statement per level of merges (usually one in all)."""
    out = {tag.id: [tag.id] for tag in tags}
    root_of = {tag.id: tag.id for tag in tags}
    frontier = list(root_of)
    while frontier and len(root_of) < 10000:
        asked = frontier
        merged = statements.execute(m.Tag._meta.database, ("tag_families", len(asked)), lambda: (
            m.Tag.select(m.Tag.id, m.Tag.merged_into).where(m.Tag.merged_into.in_(asked))), asked)
        frontier = []
        for tag_id, into in merged:
            if tag_id not in root_of:
                root_of[tag_id] = root_of[into]
                out[root_of[into]].append(tag_id)
                frontier.append(tag_id)
    return out


def label(tag: m.Tag, locale: str | None) -> str:
    if (locale or "").startswith("zh"):
        return tag.label_zh or tag.label_en or tag.name
    return tag.label_en or tag.label_zh or tag.name


def ensure_tag(organisation_id: int, name: str, kind: str, labels: dict | None = None) -> m.Tag:
    """The surviving tag called `name`, made when missing (taggers and manual tagging)."""
    found = find_tag(organisation_id, name)
    if found is not None:
        return found
    labels = labels or {}
    tag, _created = m.Tag.get_or_create(organisation=organisation_id, name=name,
                                        defaults={"kind": kind, "label_en": labels.get("en"), "label_zh": labels.get("zh")})
    return canonical(tag)


def _check_free(organisation_id: int, text: str, field: str, except_tag: m.Tag | None = None) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("%(field)s must not be empty.", field=field), field=field)
    if len(text) > 100:
        raise ValidationError(_("%(field)s is longer than 100 characters.", field=field), field=field)
    if any(c in text for c in '"():'):
        raise ValidationError(_("%(field)s must not contain quotes, parentheses or colons.", field=field), field=field)
    other = find_tag(organisation_id, text)
    if other is not None and (except_tag is None or other.id != canonical(except_tag).id):
        raise ValidationError(_("“%(text)s” already names the tag “%(tag)s”.", text=text, tag=other.name), field=field)
    return text


def rename(tag: m.Tag, *, actor, name: str | None = None, label_en: str | None = None, label_zh: str | None = None) -> m.Tag:
    """Change a tag's name or labels; an old name or label stays findable as a synonym."""
    changed = {}
    with m.Tag._meta.database.atomic():
        for field, value in (("name", name), ("label_en", label_en), ("label_zh", label_zh)):
            if value is None or value.strip() == (getattr(tag, field) or ""):
                continue
            value = _check_free(tag.organisation_id, value, field, except_tag=tag)
            old = getattr(tag, field)
            if old:
                m.TagSynonym.get_or_create(tag=tag, text=old, defaults={"language": {"label_en": "en", "label_zh": "zh"}.get(field, "")})
            setattr(tag, field, value)
            changed[field] = value
        if changed:
            tag.save()
            audit.record("tag.rename", tag, actor=actor, details={"fields": sorted(changed)})
    return tag


def merge(source: m.Tag, target: m.Tag, *, actor) -> m.Tag:
    """Fold `source` into `target`: searches for either reach both families from now on."""
    target = canonical(target)
    if source.organisation_id != target.organisation_id:
        raise ValidationError(_("Tags of different organisations cannot be merged."), field="target")
    if canonical(source).id == target.id:
        raise ValidationError(_("“%(source)s” is already “%(target)s” or merged into it.", source=source.name, target=target.name), field="target")
    if source.merged_into_id is not None:
        raise ValidationError(_("“%(source)s” is already merged into “%(other)s”; merge that tag instead.",
                                source=source.name, other=canonical(source).name), field="source")
    with m.Tag._meta.database.atomic():
        source.merged_into = target
        source.save()
        audit.record("tag.merge", source, actor=actor, details={"into": target.id})
    return target


def add_synonym(tag: m.Tag, text: str, language: str, *, actor) -> m.TagSynonym:
    if language not in ("", "en", "zh"):
        raise ValidationError(_("language must be en, zh or empty."), field="language")
    text = _check_free(tag.organisation_id, text, "synonym")
    with m.Tag._meta.database.atomic():
        synonym = m.TagSynonym.create(tag=canonical(tag), text=text, language=language)
        audit.record("tag.synonym", tag, actor=actor, details={"language": language})
    return synonym
