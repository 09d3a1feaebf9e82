"""The verification report: one JSON document that accounts for every row of the source.

Per entity: how many records the source had, and how many were migrated (new in this run, already
migrated by an earlier run, or linked to a row that existed), merged, rejected, or set aside as
duplicate rows; ``accounted`` says the numbers add up. Then every reject with its reason, every
duplicate, every warning, every merge decision, the label mapping table, the role mapping, and a
playback check that decodes a sample of migrated recordings end to end.

A dry run's report is the same document built from the plan (``dry_run: true``), except that its
playback check decodes source files, since nothing was migrated.
"""

from __future__ import annotations

import random
import time

from talentreel.server import models as m
from talentreel.server.recordings import ORIGINAL, object_key

from . import reasons
from . import records as r
from .plan import Plan

PLAYBACK_SAMPLE = 3
"""Recordings the playback check decodes by default."""

DURATION_TOLERANCE = 2.0
"""Seconds a decoded recording may fall short of its probed duration and still pass."""

OUTCOMES = ("new", "already", "linked", "merged", "rejected")


def build(plan: Plan, *, run: m.MigrationRun | None, description: dict, dry_run: bool) -> dict:
    entities, rejects = {}, []
    for kind in r.RECORD_TYPES:
        counts = dict.fromkeys(OUTCOMES, 0)
        for position, item in enumerate(plan.items[kind]):
            outcome = item.outcome or item.planned_outcome
            counts[outcome] += 1
            if outcome == "rejected":
                rejects.append(({"kind": kind, "legacy_id": item.legacy_id or None, "reason": item.reason,
                                 "detail": item.detail or "", "where": item.where},
                                (list(r.RECORD_TYPES).index(kind), reasons.sort_key(item.reason), position)))
        duplicates = sum(1 for d in plan.duplicates if d["kind"] == kind)
        in_source = len(plan.items[kind]) + duplicates
        migrated = counts["new"] + counts["already"] + counts["linked"]
        entities[r.ENTITY_NAMES[kind]] = {
            "in_source": in_source, "migrated": migrated, **counts, "duplicates": duplicates,
            "accounted": in_source == migrated + counts["merged"] + counts["rejected"] + duplicates,
        }
    for position, item in enumerate(plan.loose_rejects):
        rejects.append(({"kind": item.kind, "legacy_id": item.legacy_id or None, "reason": item.reason, "detail": item.detail or "",
                         "where": item.where}, (-1, reasons.sort_key(item.reason), position)))
    rejects.sort(key=lambda pair: pair[1])

    recordings = [i for i in plan.items["recording"] if (i.outcome or i.planned_outcome) == "new"]
    user_roles: dict[str, int] = {}
    for item in plan.items["user"]:
        if (item.outcome or item.planned_outcome) != "rejected":
            for role in item.refs.get("roles", []):
                user_roles[role] = user_roles.get(role, 0) + 1
    seen = sorted(plan.labels_seen)
    return {
        "run": _run_section(run, plan, description, dry_run),
        "files": plan.files,
        "entities": entities,
        "totals": {key: sum(e[key] for e in entities.values()) for key in ("in_source", "migrated", "new", "merged", "rejected", "duplicates")},
        "accounted": all(e["accounted"] for e in entities.values()),
        "rejects": [entry for entry, _ in rejects],
        "duplicates": plan.duplicates,
        "warnings": plan.warnings,
        "merges": plan.merges,
        "labels": {
            **plan.label_map.as_report(),
            "used": {label: plan.label_map.resolve(label) for label in seen},
            "unmapped": sorted(plan.unmapped),
        },
        "roles": {"map": plan.role_map, "users": dict(sorted(user_roles.items())),
                  "note": "accounts are created without a password; each user sets one through the password reset (first sign-in) flow"},
        "media": {
            "recordings": len(recordings),
            "remux": sum(1 for i in recordings if i.extra.get("plan") == "remux"),
            "transcode": sum(1 for i in recordings if i.extra.get("plan") == "transcode"),
        },
    }


def _run_section(run, plan: Plan, description: dict, dry_run: bool) -> dict:
    return {
        "id": run.id if run else None,
        "kind": plan.source,
        "migrator_version": description.get("version"),
        "location": run.location if run else plan.options.get("location"),
        "dry_run": dry_run,
        "attempts": run.attempts if run else 0,
        "options": {k: v for k, v in plan.options.items() if k != "location"},
        "started_at": run.started_at.isoformat() if run and run.started_at else None,
    }


# --- playback check ---------------------------------------------------------------------------


def playback_check(state, source: str, sample: int, *, seed: int, plan: Plan | None = None) -> dict:
    """Decode `sample` random recordings end to end: migrated ones (their replay MP4 once the media
    job made it, else the stored original), or, for a dry run (`plan` given), the source files the
    run would migrate. Every frame is decoded; a recording passes when decoding reaches its end."""
    result = {"sample": sample, "checked": [], "ok": True}
    if sample <= 0:
        return result
    rng = random.Random(seed)
    if plan is not None:
        pool = sorted((i for i in plan.items["recording"] if i.extra.get("path") and i.action != "reject"), key=lambda i: i.legacy_id)
        for item in rng.sample(pool, min(sample, len(pool))):
            entry = {"legacy_id": item.legacy_id, "object": "source file", **_decode(lambda: open(item.extra["path"], "rb"), item.extra.get("duration"))}
            result["checked"].append(entry)
    else:
        rows = list(m.MigrationItem.select(m.MigrationItem.legacy_id, m.MigrationItem.target_id)
                    .where((m.MigrationItem.source == source) & (m.MigrationItem.kind == "recording") & (m.MigrationItem.state == "created"))
                    .order_by(m.MigrationItem.legacy_id).tuples())
        for legacy_id, recording_id in rng.sample(rows, min(sample, len(rows))):
            recording = m.Recording.get_or_none(m.Recording.id == recording_id)
            if recording is None:
                result["checked"].append({"legacy_id": legacy_id, "recording_id": recording_id, "ok": False, "error": "recording deleted"})
                continue
            video_key = object_key(recording.id, "video.mp4")
            name = "video.mp4" if recording.state == "ready" and state.store.exists(video_key) else ORIGINAL
            key = object_key(recording.id, name)
            duration = (recording.media or {}).get("output", {}).get("duration") if name == "video.mp4" else recording.duration_seconds
            entry = {"legacy_id": legacy_id, "recording_id": recording.id, "state": recording.state, "object": name,
                     **_decode(lambda key=key: state.store.open(key), duration)}
            result["checked"].append(entry)
    result["ok"] = all(entry["ok"] for entry in result["checked"])
    return result


def _decode(opener, duration: float | None) -> dict:
    import av

    started = time.monotonic()
    frames = {"video": 0, "audio": 0}
    end = 0.0
    try:
        with opener() as fh, av.open(fh, metadata_errors="ignore") as container:
            streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    frames[packet.stream.type] = frames.get(packet.stream.type, 0) + 1
                    if frame.time is not None:
                        end = max(end, float(frame.time))
    except Exception as exc:  # any failure to decode is the finding, not a crash of the report
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "video_frames": frames["video"], "audio_frames": frames["audio"],
                "seconds": round(time.monotonic() - started, 3)}
    ok = frames["video"] > 0 and (duration is None or end >= duration - DURATION_TOLERANCE)
    entry = {"ok": ok, "video_frames": frames["video"], "audio_frames": frames["audio"], "decoded_until": round(end, 3),
             "seconds": round(time.monotonic() - started, 3)}
    if not ok:
        entry["error"] = "no picture decoded" if not frames["video"] else f"decoding ends at {end:.1f}s of {duration:.1f}s"
    return entry
