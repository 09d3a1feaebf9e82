"""Tuning an organisation's analyzer thresholds from reviewers' verdicts on cues.

A duration threshold decides which silences or visual spans become cues. For every threshold an
analyzer declares calibratable (its description's `calibration`: {threshold key: [cue kinds]}),
the verdicts on those cue kinds are replayed under candidate values: a cue would have been shown
when its measure reaches the threshold, and that agrees with a verdict of "right" and disagrees
with "wrong". The value agreeing most often wins; ties keep the value nearest the current one, so
a threshold moves only when the evidence says so.

Cues below the current threshold were never shown, so nobody could say they were missed: the
search never goes below the shortest cue judged. Too few verdicts (MIN_VERDICTS) leave the
threshold alone, and the run records why. The result is stored on the organisation (analyzers
read `settings["thresholds"]`) and as a Calibration row (what HR sees).
"""

from __future__ import annotations

from .. import models as m

MIN_VERDICTS = 5
"""Verdicts a threshold needs before calibration moves it."""


def agreement(verdicts: list[tuple[float, bool]], threshold: float) -> float:
    """Share of verdicts the threshold agrees with."""
    if not verdicts:
        return 0.0
    agreed = sum(1 for measure, correct in verdicts if (measure >= threshold - 1e-9) == correct)
    return round(agreed / len(verdicts), 4)


def best_threshold(verdicts: list[tuple[float, bool]], current: float) -> float:
    measures = sorted({measure for measure, _ in verdicts})
    # Between two judged measures every value agrees alike; midpoints stand for those ranges, and
    # just past the longest cue stands for "show none of these".
    candidates = {current, *measures, *[(a + b) / 2 for a, b in zip(measures, measures[1:])], measures[-1] + 0.01}
    candidates = {round(c, 3) for c in candidates if c >= min(current, measures[0])}
    return max(sorted(candidates), key=lambda c: (agreement(verdicts, c), -abs(c - current)))


def calibrate(organisation: m.Organisation, calibratable: dict[str, dict]) -> m.Calibration:
    """calibratable: {threshold key: {"kinds": [...], "default": value}} from the analyzers."""
    settings = dict(organisation.settings or {})
    current = dict(settings.get("thresholds") or {})
    rows = list(m.CueFeedback.select().where(m.CueFeedback.organisation == organisation))
    before, after, agree_before, agree_after, details = {}, {}, {}, {}, {}
    for key, spec in sorted(calibratable.items()):
        value = float(current.get(key, spec["default"]))
        verdicts = [(r.measure, r.correct) for r in rows if r.kind in spec["kinds"] and r.measure is not None]
        before[key] = value
        agree_before[key] = agreement(verdicts, value)
        if len(verdicts) < MIN_VERDICTS:
            after[key], agree_after[key] = value, agree_before[key]
            details[key] = {"verdicts": len(verdicts), "changed": False,
                            "why": f"{len(verdicts)} verdicts on {', '.join(spec['kinds'])}; at least {MIN_VERDICTS} are needed"}
            continue
        tuned = best_threshold(verdicts, value)
        after[key], agree_after[key] = tuned, agreement(verdicts, tuned)
        details[key] = {"verdicts": len(verdicts), "changed": tuned != value,
                        "why": "agrees with more verdicts" if tuned != value else "no other value agrees with more verdicts"}
    with m.Calibration._meta.database.atomic():
        # Only calibrated keys change; a key set by hand and not calibratable is kept.
        settings["thresholds"] = {**current, **{k: v for k, v in after.items() if details[k]["changed"]}}
        m.Organisation.update(settings=settings).where(m.Organisation.id == organisation.id).execute()
        return m.Calibration.create(organisation=organisation, feedback_count=len(rows), before=before, after=after,
                                    agreement_before=agree_before, agreement_after=agree_after, details=details)


def latest(organisation: m.Organisation, limit: int = 10) -> list[m.Calibration]:
    return list(m.Calibration.select().where(m.Calibration.organisation == organisation)
                .order_by(m.Calibration.created_at.desc(), m.Calibration.id.desc()).limit(limit))


def as_dict(row: m.Calibration) -> dict:
    return {"id": row.id, "organisation_id": row.organisation_id, "feedback_count": row.feedback_count,
            "before": row.before, "after": row.after, "agreement_before": row.agreement_before,
            "agreement_after": row.agreement_after, "details": row.details,
            "created_at": row.created_at.replace(tzinfo=None).isoformat() + "Z"}
