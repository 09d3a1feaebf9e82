"""Telling the interviewer's turns from the candidate's without speaker diarization.

The interview's questions are known, so a transcript segment that reads as one of them is the
interviewer asking it; the speech between two questions is the candidate's answer. Engines mark
question segments with `question_index`; this module does it for transcripts that lack the mark
and groups the rest into answers.
"""

from __future__ import annotations

from .text import normalise_words
from .wer import find_phrase

QUESTION_MAX_ERROR = 0.4
"""At most this fraction of a question's words may differ in the segment that reads as it."""

QUESTION_MIN_COVER = 0.6
"""The question must account for this share of the segment's words (not one phrase in a long answer)."""


def mark_questions(segments: list[dict], questions: list[str], language: str = "en") -> None:
    """Set `question_index` on each segment that reads as one of `questions` (in place)."""
    normalised = [normalise_words(q, language) for q in questions]
    for segment in segments:
        tokens = normalise_words(segment.get("text", ""), language)
        best = None
        for index, question in enumerate(normalised):
            match = find_phrase(tokens, question)
            if match is None or match.error_rate(len(question)) > QUESTION_MAX_ERROR:
                continue
            if (match.end - match.start) / len(tokens) >= QUESTION_MIN_COVER and (best is None or match.distance < best[1]):
                best = (index, match.distance)
        if best is not None:
            segment["question_index"] = best[0]


def answers(segments: list[dict]) -> list[dict]:
    """Runs of consecutive non-question segments: {"question_index" (of the question before, or
    None), "start", "end", "words"}. Without any question marked, each segment is its own run,
    since nothing says where one answer ends and the next begins."""
    has_turns = any("question_index" in s for s in segments)
    runs: list[dict] = []
    asked = None
    for segment in segments:
        if "question_index" in segment:
            asked = segment["question_index"]
            runs.append(None)  # a question closes the answer before it
            continue
        if not segment.get("words"):
            continue
        if runs and runs[-1] is not None and has_turns:
            run = runs[-1]
            run["end"] = segment["end"]
            run["words"] = run["words"] + segment["words"]
        else:
            runs.append({"question_index": asked, "start": segment["start"], "end": segment["end"],
                         "words": list(segment["words"])})
    return [r for r in runs if r is not None]
