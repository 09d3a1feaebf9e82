"""Each plugin's settings, for the plugins page: the instance settings it reads (from the config
file or environment, shown read-only, secrets masked) and the organisation's analysis settings,
which the console edits.

A built-in plugin's settings are listed here; a third-party plugin may list the ones it reads in a
module attribute `TALENTREEL_SETTINGS` (names of settings in server/config.py).
"""

from __future__ import annotations

from talentreel.server import audit, models as m
from talentreel.server.config import BY_NAME
from talentreel.server.errors import ValidationError
from talentreel.server.i18n import gettext as _

BUILTIN_SETTINGS = {
    "storage_local": ("storage_path", "storage_cold_path", "cold_after_days"),
    "storage_s3": ("s3_endpoint_url", "s3_bucket", "s3_region", "s3_access_key", "s3_secret_key", "s3_prefix", "s3_cold_storage_class",
                   "cold_after_days"),
    "analyzer_stt_pocketsphinx": ("stt_engine", "analysis_language"),
    "analyzer_stt_vosk": ("stt_engine", "vosk_model_path", "analysis_language"),
    "analyzer_vision": ("vision_fps",),
    "analyzer_language": ("analysis_language", "taxonomy_path"),
}

ORG_THRESHOLDS = {
    # name: (plugin, default, lowest, highest)
    "voice.hesitation_min_seconds": ("analyzer_voice", 2.0, 0.1, 60.0),
    "voice.before_answer_min_seconds": ("analyzer_voice", 2.0, 0.1, 60.0),
    "voice.pause_min_seconds": ("analyzer_voice", 0.3, 0.05, 10.0),
    "questions.min_match": ("analyzer_questions", 0.5, 0.0, 1.0),
}
"""Organisation thresholds the analyzers read (server/analysis/consent.py), with the range accepted."""

ORG_SWITCHES = ("ai", "vision_voice")


def instance_settings(plugin_name: str, plugin, settings) -> list[dict]:
    names = BUILTIN_SETTINGS.get(plugin_name) or tuple(getattr(plugin, "TALENTREEL_SETTINGS", ()) or ())
    rows = []
    for name in names:
        if name not in BY_NAME:
            continue
        value = settings.get(name)
        if BY_NAME[name].secret:
            value = _("(set)") if value else _("(not set)")
        rows.append({"name": name, "value": value, "env": BY_NAME[name].env})
    return rows


def org_values(organisation: m.Organisation) -> dict:
    stored = organisation.settings or {}
    switches = {**{s: True for s in ORG_SWITCHES}, **(stored.get("analysis") or {})}
    thresholds = {k: (stored.get("thresholds") or {}).get(k, spec[1]) for k, spec in ORG_THRESHOLDS.items()}
    return {"switches": switches, "thresholds": thresholds}


def parse_org_form(form) -> tuple[dict, dict]:
    """(switches, thresholds) from the submitted form; ValidationError naming every bad field,
    raised before anything is saved."""
    errors = []
    switches = {}
    for name in ORG_SWITCHES:
        raw = form.get(f"switch.{name}", "off")
        if raw not in ("on", "off"):
            errors.append(_("%(field)s: expected on or off, got %(value)s", field=name, value=raw[:40]))
        switches[name] = raw == "on"
    thresholds = {}
    for name, (_plugin, _default, low, high) in ORG_THRESHOLDS.items():
        raw = (form.get(f"threshold.{name}") or "").strip()
        try:
            value = float(raw)
            if value != value or not low <= value <= high:  # NaN, or out of range
                raise ValueError
        except ValueError:
            errors.append(_("%(field)s: expected a number from %(low)s to %(high)s, got %(value)s",
                            field=name, low=low, high=high, value=raw[:40] or _("nothing")))
            continue
        thresholds[name] = value
    unknown = sorted(k for k in form if k not in ("csrf_token",) and not k.startswith(("switch.", "threshold."))
                     or (k.startswith("threshold.") and k[len("threshold."):] not in ORG_THRESHOLDS))
    if unknown:
        errors.append(_("unknown field(s): %(names)s", names=", ".join(unknown)[:200]))
    if errors:
        raise ValidationError("; ".join(errors))
    return switches, thresholds


def save_org_settings(organisation: m.Organisation, switches: dict, thresholds: dict) -> None:
    """One UPDATE of the organisation's settings: every field changes, or none."""
    with m.Organisation._meta.database.atomic():
        current = m.Organisation.get_by_id(organisation.id)
        merged = dict(current.settings or {})
        merged["analysis"] = {**(merged.get("analysis") or {}), **switches}
        merged["thresholds"] = {**(merged.get("thresholds") or {}), **thresholds}
        m.Organisation.update(settings=merged).where(m.Organisation.id == organisation.id).execute()
        audit.record("organisation.analysis_settings", current, details={"analysis": switches, "thresholds": thresholds})
