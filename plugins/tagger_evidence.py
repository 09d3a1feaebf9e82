"""Built-in taggers: competency, skill and scene tags of the talent pool, each with the moments of
the replay that justify it.

- `competencies`: one tag per competency of the taxonomy the language analyzer found evidence of.
  Its score says how much distinct evidence there is, not how good the candidate is:
  1 - 0.7 ** (distinct phrases said), so one phrase gives 0.3, three 0.66, six 0.88. Evidence is
  ordered with the answer holding the most hits first, so a search hit opens the replay at the
  answer that shows the competency best.
- `skills`: skills of plugins/taxonomy/pool_tags.toml said in the answers, scored the same way.
- `scenes`: situations the interview put the candidate in (模拟谈判, 跨文化场景), from the
  questions asked and the answers; no score. A scene found in a question points at its answer.

Each runs on the report's data only (`run(report_data, taxonomy)`), in the `analysis` worker.
"""

from __future__ import annotations

from pathlib import Path

from talentreel.server.plugins import hookimpl

VERSION = "1.0"
POOL_TAGS = Path(__file__).with_name("taxonomy") / "pool_tags.toml"
EVIDENCE_PER_TAG = 5


@hookimpl
def talentreel_taggers():
    return [
        {"name": "competencies", "version": VERSION, "run": "talentreel.plugins.tagger_evidence:competencies"},
        {"name": "skills", "version": VERSION, "run": "talentreel.plugins.tagger_evidence:skills"},
        {"name": "scenes", "version": VERSION, "run": "talentreel.plugins.tagger_evidence:scenes"},
    ]


def evidence_score(distinct_phrases: int) -> float:
    return round(1 - 0.7 ** distinct_phrases, 2)


def _ordered_evidence(events: list[dict]) -> list[dict]:
    """The answer with most hits first, then by time; a few moments per tag."""
    per_answer: dict = {}
    for event in events:
        per_answer[event.get("question_index")] = per_answer.get(event.get("question_index"), 0) + 1
    ranked = sorted(events, key=lambda e: (-per_answer[e.get("question_index")], e["start"]))
    out, seen = [], set()
    for e in ranked:
        if e["start"] not in seen:  # two phrases of one question point at the same answer once
            seen.add(e["start"])
            out.append({"start": e["start"], "end": e.get("end", e["start"]), "why": e.get("why", "")})
    return out[:EVIDENCE_PER_TAG]


def competencies(report: dict, taxonomy) -> list[dict]:
    events = [e for e in ((report.get("parts") or {}).get("language") or {}).get("events") or []
              if e.get("kind") == "competency" and e.get("competency")]
    out = []
    for competency in taxonomy.competencies:
        mine = [e for e in events if e["competency"] == competency.key]
        if not mine:
            continue
        out.append({"tag": competency.key, "kind": "competency", "labels": dict(competency.labels),
                    "score": evidence_score(len({e.get("phrase") for e in mine})), "evidence": _ordered_evidence(mine)})
    return out


def _pool_tags(section: str):
    import tomllib

    from talentreel.server.analysis.text.taxonomy import parse

    with open(POOL_TAGS, "rb") as fh:
        return parse({"competencies": tomllib.load(fh)[section]}, f"{POOL_TAGS} [{section}]")


def _index(entries):
    from talentreel.server.analysis.text.phrases import PhraseIndex

    return PhraseIndex((phrase, entry.key) for entry in entries.competencies
                       for phrases in entry.phrases.values() for phrase in phrases)


def _answer_hits(report: dict, entries) -> dict[str, list[dict]]:
    from talentreel.server.analysis.text.phrases import longest_per_payload
    from talentreel.server.analysis.text.tokens import join, timed

    index = _index(entries)
    found: dict[str, list[dict]] = {}
    answers = report.get("questions") or [{"index": None, "words": (report.get("transcript") or {}).get("words") or []}]
    for answer in answers:
        tokens = timed(answer.get("words") or [])
        for hit in longest_per_payload(index.find(tokens)):
            said = join(t.text for t in tokens[hit.first: hit.last + 1])
            found.setdefault(hit.payload, []).append({
                "start": tokens[hit.first].start, "end": tokens[hit.last].end, "phrase": hit.phrase,
                "question_index": answer.get("index"), "why": f"said \u201c{said}\u201d"})
    return found


def skills(report: dict, taxonomy) -> list[dict]:
    entries = _pool_tags("skills")
    out = []
    for key, hits in _answer_hits(report, entries).items():
        entry = entries.by_key(key)
        out.append({"tag": key, "kind": "skill", "labels": dict(entry.labels),
                    "score": evidence_score(len({h["phrase"] for h in hits})), "evidence": _ordered_evidence(hits)})
    return out


def scenes(report: dict, taxonomy) -> list[dict]:
    from talentreel.server.analysis.text.phrases import longest_per_payload
    from talentreel.server.analysis.text.tokens import split, Token

    entries = _pool_tags("scenes")
    index = _index(entries)
    found: dict[str, list[dict]] = {}
    for question in report.get("questions") or []:
        asked = question.get("question") or ""
        tokens = [Token(unit, 0.0, 0.0, i) for i, unit in enumerate(split(asked))]
        if question.get("start") is None:  # listed but never heard: no moment to point at, no scene
            continue
        for hit in longest_per_payload(index.find(tokens)):
            found.setdefault(hit.payload, []).append({
                "start": question["start"], "end": question.get("end") or question["start"], "question_index": question.get("index"),
                "why": f"asked \u201c{asked}\u201d"})
    for key, hits in _answer_hits(report, entries).items():
        found.setdefault(key, []).extend(hits)
    return [{"tag": key, "kind": "scene", "labels": dict(entries.by_key(key).labels), "score": None,
             "evidence": _ordered_evidence(hits)} for key, hits in found.items()]
