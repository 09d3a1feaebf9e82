"""The part of a migrator a partner writes: a Reader that turns a source into canonical records.

A migrator plugin describes itself through the ``talentreel_migrators`` hook::

    @hookimpl
    def talentreel_migrators():
        return [{"kind": "acme-hr", "version": "1.0", "title": "ACME HR export",
                 "reader": "talentreel_acme.migrator:AcmeReader"}]

and the framework (running in the ``migration`` worker, or inline in the CLI) imports the reader,
builds it with the location and options of the run, and iterates ``read()``. Everything else
(dedup, label and role mapping, loading, journal, media, report, rollback) is the framework's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from talentreel.server.errors import PluginError, ValidationError

RESERVED_KINDS = {"rollback", "list", "show", "unmerge", "kinds", "verify", "run"}
"""Sub-command names of `talentreel migrate`; no migrator may be called so."""


class Reader:
    """Base class of readers. Subclasses set the class attributes and implement read().

    - ``role_map``: legacy role name -> TalentReel roles (models.ROLES). A user with a role not in
      it is rejected ("unknown role"), never given a guessed role.
    - ``timezone``: the zone of the naive times the reader yields ("+08:00", "Asia/Shanghai",
      "UTC"); the ``timezone`` option of a run overrides it.
    - ``workdir``: set by the framework before read(): a private directory for downloads, removed
      after the run.
    """

    role_map: Mapping[str, tuple[str, ...]] = {}
    timezone: str = "UTC"

    def __init__(self, location: str, options: Mapping[str, Any] | None = None):
        self.location = location
        self.options = dict(options or {})
        self.workdir: Path | None = None

    def check(self) -> None:
        """Raise ValidationError when the location cannot be read at all (no such folder, not an
        export of this kind); the run then stops before writing anything. Default: nothing."""

    def read(self) -> Iterator[Any]:
        """Yield records (migrators.records): Department, User, Candidate, Opening, Application,
        Grant, Interview, Recording, Report, Note, Document, and Rejected / Notice for what the
        report should say. Order does not matter; the framework reads everything first."""
        raise NotImplementedError

    def label_map_path(self) -> Path | None:
        """The label map to use when the run names none (e.g. one shipped inside the export)."""
        return None


def migrators(plugins) -> dict[str, dict]:
    """Every migrator the plugins offer, by kind (a kind offered twice raises PluginError)."""
    from talentreel.server.plugins import merged_by_name

    found = merged_by_name(plugins, "talentreel_migrators", key="kind")
    for kind in found:
        if kind in RESERVED_KINDS:
            raise PluginError(f"talentreel_migrators: kind '{kind}' (plugin '{found[kind]['plugin']}') is a reserved word of `talentreel migrate`")
    return found


def describe(plugins, kind: str) -> dict:
    found = migrators(plugins)
    if kind not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise ValidationError(f"no migrator of kind '{kind}' (available: {known})", field="kind")
    return found[kind]


def reader_class(description: dict) -> type:
    """Import the reader named by a migrator description ("module.path:ClassName")."""
    path = description["reader"]
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"migrator '{description['kind']}': cannot import reader {path}: {exc}") from exc
    return cls


def make_reader(plugins, kind: str, location: str, options: Mapping[str, Any] | None = None) -> tuple[Reader, dict]:
    description = describe(plugins, kind)
    return reader_class(description)(location, options or {}), description
