"""Which analyzers may run on a recording, and with which thresholds.

Human in charge: an analyzer runs only where the organisation turned its kind of analysis on
(`settings["analysis"]` of the organisation: `ai` and `vision_voice`, both on unless turned off).
Per-interview consent records (with the notice version) are the access-control issue's work; they
plug in here, in `allowed_for`, so the runner and the report already say why an analyzer did not run.
"""

from __future__ import annotations

from typing import Callable

from .. import models as m

ORG_DEFAULTS = {"ai": True, "vision_voice": True}


def org_switches(organisation: m.Organisation) -> dict:
    return {**ORG_DEFAULTS, **((organisation.settings or {}).get("analysis") or {})}


def allowed_for(recording: m.Recording) -> Callable[[dict], str | None]:
    switches = org_switches(recording.candidate.organisation)

    def allowed(description: dict) -> str | None:
        if description.get("enabled") is False:
            return "not configured in this installation"
        kind = description.get("consent", "ai")
        if not switches.get("ai", True):
            return "the organisation turned AI analysis off"
        if kind == "vision_voice" and not switches.get("vision_voice", True):
            return "the organisation turned vision and voice analysis off"
        return None

    return allowed


def thresholds(recording: m.Recording) -> dict:
    """The organisation's calibrated thresholds (e.g. hesitation seconds), defaults otherwise."""
    return dict((recording.candidate.organisation.settings or {}).get("thresholds") or {})
