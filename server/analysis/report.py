"""The structured replay report: what the analyzers found, arranged for reviewers.

Schema (version REPORT_SCHEMA_VERSION, described in docs/report.md and checked by tests):

- `analyzers`: {name: version} of the analyzers that ran; `analysis`: every analyzer with its state
  (`ran`, `skipped`, `failed`) and the reason when it did not run;
- `transcript`: the speech-to-text words with times;
- `questions`: per question the answer's time span (null for a question not found in the recording), transcript, words, keywords, cues (every event
  inside the answer) and key moments (start, end, kind, why);
- `moments`: all key moments in time order; `summary`: counts and overall figures;
- `consent`: the candidate's consent record the analysis ran under (null: none recorded).

Cues are evidence for people: each points at a moment of the recording and says why; the report
makes no decision and computes no overall score.
"""

from __future__ import annotations

import datetime as dt

from .. import models as m
from .contract import STT_PART, AnalysisInput

REPORT_SCHEMA_VERSION = "1.1"
"""1.1 added each cue's `ref` (what reviewers' verdicts name) and the `consent` the analysis ran under.
The JSON Schema of each version ships in server/analysis/schema/ (see docs/report.md)."""

KEY_MOMENT_KINDS = ("competency", "hesitation", "before_answer", "face_absent", "attention_away", "movement", "filler")
"""Event kinds worth a marker on the timeline; other events stay in the cues panel."""


def language_of(recording: m.Recording, settings) -> str:
    return settings.get("analysis_language") or "en"


def _overlaps(event: dict, start: float, end: float) -> bool:
    return event.get("start", 0.0) < end and event.get("end", event.get("start", 0.0)) > start


def _moment(event: dict) -> dict:
    return {"start": round(float(event["start"]), 3), "end": round(float(event.get("end", event["start"])), 3),
            "kind": event.get("kind", "cue"), "why": event.get("why", ""), "source": event.get("source"),
            **({"ref": event["ref"]} if "ref" in event else {}),
            **({"competency": event["competency"]} if "competency" in event else {})}


def assemble(recording: m.Recording, inp: AnalysisInput, statuses: dict[str, dict], consent: dict | None = None) -> dict:
    stt = inp.parts.get(STT_PART) or {}
    words = stt.get("words") or []
    events = []
    for part_name, part in inp.parts.items():
        for index, event in enumerate((part or {}).get("events") or []):
            if "start" in event:
                # ref: "<part>:<index>" names the cue for reviewers' verdicts (review/feedback.py).
                events.append({**event, "source": part_name, "ref": f"{part_name}:{index}"})
    events.sort(key=lambda e: (e["start"], e.get("end", e["start"])))

    answers = (inp.parts.get("questions") or {}).get("answers") or []
    language_answers = {a.get("question_index"): a for a in (inp.parts.get("language") or {}).get("answers") or []}
    questions = []
    for answer in answers:
        index = answer.get("question_index")
        if answer.get("start") is None or answer.get("end") is None:
            # A listed question nobody was heard asking or answering keeps its place, with no times.
            questions.append({"index": index, "question": answer.get("question"), "asked": answer.get("asked"),
                              "start": None, "end": None, "transcript": "", "words": [],
                              "keywords": (language_answers.get(index) or {}).get("keywords", []), "cues": [], "moments": []})
            continue
        start, end = float(answer["start"]), float(answer["end"])
        cues = [e for e in events if _overlaps(e, start, end)]
        questions.append({
            "index": index,
            "question": answer.get("question"),
            "asked": answer.get("asked"),
            "start": start,
            "end": end,
            "transcript": answer.get("text") or " ".join(w["word"] for w in words if start <= w["start"] < end),
            "words": [w for w in words if start <= w["start"] < end],
            "keywords": (language_answers.get(index) or {}).get("keywords", []),
            "cues": cues,
            "moments": [_moment(e) for e in cues if e.get("kind") in KEY_MOMENT_KINDS],
        })

    moments = [_moment(e) for e in events if e.get("kind") in KEY_MOMENT_KINDS]
    counts: dict[str, int] = {}
    for event in events:
        counts[event.get("kind", "cue")] = counts.get(event.get("kind", "cue"), 0) + 1
    voice = inp.parts.get("voice") or {}
    language = inp.parts.get("language") or {}
    summary = {
        "duration": inp.duration,
        "words": len(words),
        "answers": len(questions),
        "event_counts": counts,
        "speaking_rate_wpm": (voice.get("summary") or {}).get("overall_wpm"),
        "competencies": language.get("competencies") or {},
        "keywords": language.get("keywords") or [],
        "vision": (inp.parts.get("vision") or {}).get("summary") or {},
    }
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "recording_id": recording.id,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "language": inp.language,
        "consent": consent,
        "analyzers": {s["name"]: s["version"] for s in statuses.values() if s["state"] == "ran"},
        "analysis": sorted(statuses.values(), key=lambda s: s["name"]),
        "transcript": {"engine": stt.get("engine"), "language": stt.get("language"), "text": stt.get("text", ""),
                       "words": words, "segments": stt.get("segments") or []},
        "questions": questions,
        "moments": moments,
        "summary": summary,
        "parts": {k: v for k, v in inp.parts.items() if k != STT_PART},
    }


def save(recording: m.Recording, data: dict) -> m.Report:
    """Store as the next version: reports are never overwritten."""
    database = m.Report._meta.database
    with database.atomic():
        latest = m.Report.select(m.Report.version).where(m.Report.recording == recording).order_by(m.Report.version.desc()).first()
        return m.Report.create(recording=recording, version=(latest.version + 1) if latest else 1,
                               schema_version=REPORT_SCHEMA_VERSION, data=data, analyzers=data["analyzers"])


def latest(recording: m.Recording) -> m.Report | None:
    return m.Report.select().where(m.Report.recording == recording).order_by(m.Report.version.desc()).first()
