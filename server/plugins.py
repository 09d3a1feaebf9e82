"""The plugin manager: one per application, holding built-in and third-party plugins alike.

Built-in plugins are a list of module paths registered through the same call as any other plugin;
third-party ones come from the ``talentreel`` entry-point group and from the ``plugins`` setting.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import PluginError

hookimpl = pluggy.HookimplMarker("talentreel")

ENTRY_POINT_GROUP = "talentreel"

BUILTIN_PLUGINS = (
    "talentreel.plugins.storage_local",
    "talentreel.plugins.storage_s3",
    "talentreel.plugins.policy",
    "talentreel.plugins.analyzer_stt_pocketsphinx",
    "talentreel.plugins.analyzer_stt_vosk",
    "talentreel.plugins.analyzer_voice",
    "talentreel.plugins.analyzer_questions",
    "talentreel.plugins.analyzer_language",
    "talentreel.plugins.analyzer_vision",
    "talentreel.plugins.tagger_evidence",
    "talentreel.migrators.opencats",
    "talentreel.migrators.legacy_export",
    "talentreel.plugins.backup_escrow",
    "talentreel.plugins.pool_index",
)
"""Module paths of the plugins TalentReel ships; each registers under its last path component."""


def builtin_name(module_path: str) -> str:
    return module_path.rsplit(".", 1)[-1]


def make_plugin_manager(settings) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("talentreel")
    pm.add_hookspecs(hookspecs)
    disabled = set(settings.get("disabled_plugins", ()))
    for name in disabled:
        pm.set_blocked(name)
    for path in BUILTIN_PLUGINS:
        _register_module(pm, path, builtin_name(path))
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party package must be named, not crash start-up blindly
        raise PluginError(f"loading plugins of entry-point group '{ENTRY_POINT_GROUP}' failed: {exc}") from exc
    for path in settings.get("plugins", ()):
        if pm.has_plugin(path) or pm.is_blocked(path):
            continue
        _register_module(pm, path, path, configured=True)
    pm.check_pending()
    return pm


def _register_module(pm: pluggy.PluginManager, path: str, name: str, configured: bool = False) -> None:
    if pm.is_blocked(name):
        return
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if configured and exc.name and path.startswith(exc.name):
            raise PluginError(f"plugin '{path}' named in the 'plugins' setting is not installed") from None
        raise PluginError(f"plugin '{path}' failed to import: {exc}") from exc
    except Exception as exc:
        raise PluginError(f"plugin '{path}' failed to import: {type(exc).__name__}: {exc}") from exc
    pm.register(module, name=name)


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Each plugin's name, version, hooks and where it came from (for the CLI, /-/plugins.json, admin)."""
    from .. import __version__

    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [])
        dist = dists.get(id(plugin))
        module_name = getattr(plugin, "__name__", "")
        if module_name in BUILTIN_PLUGINS:
            source, version = "builtin", __version__
        elif dist is not None:
            source, version = "entry-point", dist.version
        else:
            source, version = "setting", getattr(plugin, "__version__", None) or _dist_version(module_name)
        rows.append({"name": name, "version": version, "source": source, "hooks": hooks})
    return sorted(rows, key=lambda r: (r["source"] != "builtin", r["name"]))


def _dist_version(module_name: str) -> str | None:
    top = module_name.split(".")[0]
    for dist_name in metadata.packages_distributions().get(top, []):
        try:
            return metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            continue
    return None


def results_by_plugin(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> Iterable[tuple[str, Any]]:
    """Call a describing hook plugin by plugin, to say which plugin offered what.

    Used for hooks whose results are merged by name, so a clash can name both plugins.
    """
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        result = impl.function(**kwargs)
        if result is not None:
            yield impl.plugin_name, result


def merged_by_name(pm: pluggy.PluginManager, hook_name: str, key: str = "name") -> dict[str, dict]:
    """Merge list-of-dict results of a describing hook by ``key``; a duplicate raises PluginError."""
    merged: dict[str, dict] = {}
    owners: dict[str, str] = {}
    for plugin_name, items in results_by_plugin(pm, hook_name):
        if isinstance(items, dict):  # storage backends: {name: factory}
            items = [{key: k, "factory": v} for k, v in items.items()]
        for item in items:
            name = item[key]
            if name in merged:
                raise PluginError(f"{hook_name}: '{name}' is offered by both plugin '{owners[name]}' and plugin '{plugin_name}'")
            merged[name] = dict(item, plugin=plugin_name)
            owners[name] = plugin_name
    return merged
