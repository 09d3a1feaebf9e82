"""Built-in analyzer `language`: keywords of each answer, and evidence of competencies.

Answers come from the `questions` part when that analyzer ran first, else the same alignment is
done here (talentreel.server.analysis.text.align, same threshold), so the order of the two never
changes the result. Only the transcript is declared as a need on purpose: a failed `questions`
analyzer must not take this one down with it.

Keywords: jieba's TF-IDF for Chinese, YAKE for other languages, per answer and over all answers;
each keyword keeps the moments it was said. Competency evidence: every phrase of the taxonomy
(plugins/taxonomy/competencies.toml, or the file named by `taxonomy_path`) said in an answer is an
event pointing at that moment, with the phrase and why; they are counted per competency, and
nothing is scored or judged here. Only the candidate's answers are searched: the interviewer
saying "team" is not evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from talentreel.server.analysis.contract import STT_PART, TRANSCRIPT, AnalysisInput, AnalyzerError, AnalyzerUnavailable
from talentreel.server.plugins import hookimpl

NAME = "language"
VERSION = "1.0"

QUESTIONS_PART = "questions"
DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy") / "competencies.toml"
KEYWORDS_PER_ANSWER = 10
KEYWORDS_OVERALL = 10
MOMENTS_PER_KEYWORD = 3


@hookimpl
def talentreel_analyzers():
    return [{
        "name": NAME,
        "version": VERSION,
        "run": "talentreel.plugins.analyzer_language:run",
        "preload": "talentreel.plugins.analyzer_language:preload",
        "needs": [TRANSCRIPT],
        "consent": "ai",
    }]


def preload(settings: Mapping[str, Any]) -> None:
    """Check the taxonomy file and load jieba and YAKE once per worker process."""
    from talentreel.server.analysis.text import keywords

    _taxonomy(settings, AnalyzerUnavailable)
    keywords.shared(settings).warm()


def _taxonomy(settings: Mapping[str, Any], error: type[Exception]):
    from talentreel.server.analysis.text.taxonomy import TaxonomyError, load_current

    path = settings.get("taxonomy_path") or DEFAULT_TAXONOMY
    try:
        return load_current(path)
    except TaxonomyError as exc:
        raise error(f"language: {exc} (the 'taxonomy_path' setting names this file)") from None


def run(inp: AnalysisInput) -> dict:
    from talentreel.server.analysis.text import keywords
    from talentreel.server.analysis.text.phrases import longest_per_payload
    from talentreel.server.analysis.text.tokens import timed, within, words_of

    stt = inp.parts.get(STT_PART)
    if not stt:
        raise AnalyzerError("language: the speech-to-text part is missing, so there is nothing to read")
    language = stt.get("language") or inp.language or "en"  # the language the text is in
    taxonomy = _taxonomy(inp.settings, AnalyzerError)
    phrases = taxonomy.index(language)
    extractor = keywords.shared(inp.settings)
    words = words_of(stt)
    stretches, answers_from = _answer_stretches(inp, stt, words)

    answers, events, texts = [], [], []
    for question_index, start, end in stretches:
        said = within(words, start, end)
        tokens = timed(said)
        text = _text(said, language)
        texts.append(text)
        found = extractor.extract(text, language, KEYWORDS_PER_ANSWER)
        for keyword in found:
            keyword["moments"] = _moments(keyword["keyword"], tokens)
        answers.append({"question_index": question_index, "start": start, "end": end, "keywords": found})
        for hit in longest_per_payload(phrases.find(tokens)):
            events.append(_evidence(hit, tokens, taxonomy.by_key(hit.payload), language, question_index))

    return {
        "language": language,
        "keyword_engine": "jieba" if language.lower().startswith("zh") else "yake",
        "answers_from": answers_from,
        "taxonomy": {"source": "default" if taxonomy.source == str(DEFAULT_TAXONOMY) else taxonomy.source,
                     "competencies": [c.key for c in taxonomy.competencies]},
        "keywords": extractor.extract(_SENTENCE_BREAK.get(language[:2], ". ").join(texts), language, KEYWORDS_OVERALL),
        "answers": answers,
        "competencies": _per_competency(taxonomy, events),
        "events": events,
    }


def _answer_stretches(inp: AnalysisInput, stt: Mapping, words: list[dict]) -> tuple[list[tuple], str]:
    """(question_index, start, end) of each answer, and where they came from."""
    from talentreel.plugins.analyzer_questions import min_match
    from talentreel.server.analysis.text.align import align

    part = inp.parts.get(QUESTIONS_PART)
    if part and "answers" in part:
        answers, source = part["answers"], "questions part"
    else:  # the questions analyzer has not run (or failed): the same alignment, done here
        answers, source = align(stt, list(inp.questions), min_match(inp.thresholds))["answers"], "own alignment"
    stretches = [(a["question_index"], a["start"], a["end"]) for a in answers if a.get("start") is not None]
    if not stretches and words:  # no question recognised: the whole transcript, attached to none
        return [(None, float(words[0]["start"]), float(words[-1]["end"]))], "whole transcript"
    return stretches, source


_SENTENCE_BREAK = {"zh": "。", "ja": "。"}


def _text(said: list[dict], language: str) -> str:
    """The words as text, the engine's segments kept apart as sentences: keyword extractors must
    not join the end of one sentence to the start of the next into one phrase."""
    from talentreel.server.analysis.text.tokens import join

    sentences: list[list[str]] = []
    for word in said:
        if sentences and word.get("segment") == sentences[-1][0]:
            sentences[-1][1].append(word["word"])
        else:
            sentences.append([word.get("segment"), [word["word"]]])
    return _SENTENCE_BREAK.get(language[:2], ". ").join(join(ws) for _, ws in sentences)


def _moments(keyword: str, tokens) -> list[dict]:
    from talentreel.server.analysis.text.phrases import PhraseIndex

    hits = PhraseIndex([(keyword, None)]).find(tokens)[:MOMENTS_PER_KEYWORD]
    return [{"start": tokens[h.first].start, "end": tokens[h.last].end} for h in hits]


def _evidence(hit, tokens, competency, language: str, question_index) -> dict:
    from talentreel.server.analysis.text.tokens import join

    said = join(t.text for t in tokens[hit.first: hit.last + 1])
    label = competency.label(language)
    return {
        "kind": "competency",
        "competency": competency.key,
        "label": label,
        "phrase": hit.phrase,
        "said": said,
        "start": tokens[hit.first].start,
        "end": tokens[hit.last].end,
        "question_index": question_index,
        "why": f"said \u201c{said}\u201d, a {label} phrase of the competency taxonomy (\u201c{hit.phrase}\u201d)",
    }


def _per_competency(taxonomy, events: list[dict]) -> dict:
    summary = {}
    for competency in taxonomy.competencies:
        mine = [e for e in events if e["competency"] == competency.key]
        summary[competency.key] = {
            "labels": dict(competency.labels),
            "moments": len(mine),
            "answers": sorted({e["question_index"] for e in mine if e["question_index"] is not None}),
            "phrases": sorted({e["phrase"] for e in mine}),
        }
    return summary
