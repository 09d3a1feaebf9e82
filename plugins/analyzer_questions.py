"""Built-in analyzer `questions`: attach each answer to the question it answers.

With the interview's question list, each question is found where it is asked in the transcript
(fuzzy, so misheard words and small rewordings still match; Chinese is compared character by
character) and its answer is what is said after it until the next question. Without a list, the
interviewer's turns are the questions: by speaker label when the transcript has them, else by
how the segments sound (a question mark, "tell me about...", "你如何..."). The same when a list
is given but not one of its questions is heard: the part then says so with "listed" (how many
were listed) and "listed_heard": 0, and its answers are numbered as the turns are. The matching itself
lives in talentreel.server.analysis.text.align, which the `language` analyzer also uses when this
part is missing.

Part: {"method": "question_list" | "speaker_turns" | "interrogative_turns", "answers": [
{"question_index", "question", "asked": {"start", "end", "text", "match"} | None, "start", "end",
"text"}], "unanswered": [question_index, ...]}. A listed question not found in the transcript keeps
its place with "asked": None and is listed as unanswered.
"""

from __future__ import annotations

from talentreel.server.analysis.contract import STT_PART, TRANSCRIPT, AnalysisInput, AnalyzerError
from talentreel.server.plugins import hookimpl

NAME = "questions"
VERSION = "1.0"

DEFAULT_MIN_MATCH = 0.5
"""Share of a listed question's words (Chinese: characters) that must be heard for it to count as
asked; an organisation's calibration may set `questions.min_match`."""


@hookimpl
def talentreel_analyzers():
    return [{
        "name": NAME,
        "version": VERSION,
        "run": "talentreel.plugins.analyzer_questions:run",
        "needs": [TRANSCRIPT],
        "consent": "ai",
    }]


def run(inp: AnalysisInput) -> dict:
    from talentreel.server.analysis.text.align import align

    stt = inp.parts.get(STT_PART)
    if not stt:
        raise AnalyzerError("questions: the speech-to-text part is missing, so there is no transcript to align")
    result = align(stt, list(inp.questions), min_match(inp.thresholds))
    result["unanswered"] = [a["question_index"] for a in result["answers"] if not a["text"]]
    return result


def min_match(thresholds) -> float:
    """The organisation's `questions.min_match`, or the default (the language analyzer aligns with
    the same value when it runs without this part)."""
    return float(thresholds.get("questions.min_match", DEFAULT_MIN_MATCH))
