"""The `questions` analyzer: answers attached to questions, on the English fixture's truth and the
Chinese transcript, with and without a question list.

The speech-to-text parts are built here from truth.json and transcript_zh.json (shaped like
contract.STT_PART, without punctuation as Vosk returns it), so these tests do not depend on the
speech-to-text analyzer. test_analyzer_language imports the builders.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from talentreel.plugins import analyzer_questions
from talentreel.server.analysis.contract import AnalysisInput, AnalyzerError

from conftest import FIXTURES

TRUTH = json.loads((FIXTURES / "interview_en" / "truth.json").read_text())
ZH = json.loads((FIXTURES / "transcript_zh.json").read_text())


def en_stt(truth=TRUTH, speakers=False) -> dict:
    """The truth's sentences as an ASR would give them: lower case, no punctuation, words spread
    evenly over each sentence's time."""
    segments = []
    for sentence in truth["segments"]:
        said = re.findall(r"[\w']+", sentence["text"].lower())
        step = (sentence["end"] - sentence["start"]) / len(said)
        words = [{"word": w, "start": round(sentence["start"] + i * step, 3),
                  "end": round(sentence["start"] + (i + 1) * step - 0.02, 3), "conf": 0.9} for i, w in enumerate(said)]
        segment = {"start": sentence["start"], "end": sentence["end"], "text": " ".join(said), "words": words}
        if speakers:
            segment["speaker"] = sentence["speaker"]
        segments.append(segment)
    return _part("en", segments)


def zh_stt(transcript=ZH, speakers=False) -> dict:
    """transcript_zh.json's segments in the STT part's shape (the text rebuilt from the words, as
    Vosk gives it: no punctuation)."""
    segments = []
    for source in transcript["segments"]:
        words = [dict(w) for w in source["words"]]
        segment = {"start": words[0]["start"], "end": words[-1]["end"], "text": "".join(w["word"] for w in words), "words": words}
        if speakers:
            segment["speaker"] = source["speaker"]
        segments.append(segment)
    return _part("zh", segments)


def _part(language, segments) -> dict:
    words = [w for s in segments for w in s["words"]]
    text = (" " if language == "en" else "").join(s["text"] for s in segments)
    return {"engine": "test", "model": "truth", "language": language, "text": text, "words": words, "segments": segments}


def questions_of(segments) -> list[str]:
    return [s["text"] for s in segments if s["speaker"] == "interviewer"]


def spans_by_question(segments, speaker) -> dict[int, tuple[float, float]]:
    spans: dict[int, tuple[float, float]] = {}
    for s in segments:
        if s["speaker"] == speaker:
            start = s.get("start", s.get("words", [{}])[0].get("start"))
            end = s.get("end", s.get("words", [{}])[-1].get("end"))
            first, _ = spans.get(s["question_index"], (start, end))
            spans[s["question_index"]] = (first, end)
    return spans


def run(stt, questions=(), language="en", **kwargs) -> dict:
    return analyzer_questions.run(AnalysisInput(recording_id=1, audio_path=None, video_path=None, duration=70.0,
                                                language=language, questions=list(questions), parts={"stt": stt}, **kwargs))


CASES = {
    "en": (en_stt, TRUTH["segments"], "en"),
    "zh": (zh_stt, ZH["segments"], "zh"),
}


def assert_answers_match_the_truth(result, segments, tolerance=0.05):
    answers_truth = spans_by_question(segments, "candidate")
    asked_truth = spans_by_question(segments, "interviewer")
    assert [a["question_index"] for a in result["answers"]] == sorted(answers_truth)
    for answer in result["answers"]:
        index = answer["question_index"]
        assert answer["start"] == pytest.approx(answers_truth[index][0], abs=tolerance), answer
        assert answer["end"] == pytest.approx(answers_truth[index][1], abs=tolerance), answer
        assert answer["asked"]["start"] == pytest.approx(asked_truth[index][0], abs=tolerance), answer
        assert answer["asked"]["end"] == pytest.approx(asked_truth[index][1], abs=tolerance), answer
        assert answer["text"]


@pytest.mark.parametrize("case", CASES)
def test_answers_follow_the_listed_questions(case):
    build, segments, language = CASES[case]
    questions = questions_of(segments)
    result = run(build(), questions, language)
    assert result["method"] == "question_list"
    assert_answers_match_the_truth(result, segments)
    assert [a["question"] for a in result["answers"]] == questions
    assert all(a["asked"]["match"] == 1.0 for a in result["answers"])
    assert result["unanswered"] == []


@pytest.mark.parametrize("case", CASES)
def test_without_a_list_the_interviewers_questions_are_recognised(case):
    build, segments, language = CASES[case]
    result = run(build(), language=language)
    assert result["method"] == "interrogative_turns"
    assert_answers_match_the_truth(result, segments)


@pytest.mark.parametrize("case", CASES)
def test_speaker_labels_mark_the_interviewers_turns(case):
    build, segments, language = CASES[case]
    result = run(build(speakers=True), language=language)
    assert result["method"] == "speaker_turns"
    assert_answers_match_the_truth(result, segments)


def test_anonymous_speaker_labels_find_the_interviewer_by_their_questions():
    stt = zh_stt(speakers=True)
    for segment in stt["segments"]:
        segment["speaker"] = {"interviewer": "spk1", "candidate": "spk0"}[segment["speaker"]]
    result = run(stt, language="zh")
    assert result["method"] == "speaker_turns"
    assert_answers_match_the_truth(result, ZH["segments"])


def _mishear(stt, replacements, asked_by_interviewer):
    """Replace words of the interviewer's segments, as an ASR mishearing them would."""
    stt = copy.deepcopy(stt)
    for segment in stt["segments"]:
        if segment["start"] in asked_by_interviewer:
            for word in segment["words"]:
                word["word"] = replacements.get(word["word"], word["word"])
    return stt


def test_misheard_reworded_and_unasked_questions():
    asked_at = {s["start"] for s in TRUTH["segments"] if s["speaker"] == "interviewer"}
    stt = _mishear(en_stt(), {"about": "a", "a": "the", "worked": "work", "project": "projects",
                              "negotiation": "negotiations", "handle": "handled", "suddenly": "sudden"}, asked_at)
    listed = questions_of(TRUTH["segments"])
    questions = [
        listed[0],
        "What salary do you expect for this role?",  # never asked
        "How do you deal with pressure when deadlines move suddenly?",  # asked in other words
        listed[2],
    ]
    result = run(stt, questions)
    by_index = {a["question_index"]: a for a in result["answers"]}
    assert by_index[1]["asked"] is None and by_index[1]["text"] == ""
    assert result["unanswered"] == [1]
    truth = spans_by_question(TRUTH["segments"], "candidate")
    for listed_index, truth_index in ((0, 0), (2, 1), (3, 2)):
        answer = by_index[listed_index]
        assert 0.5 <= answer["asked"]["match"] < 1.0
        # The misheard last words of the question stay with the question, not the answer.
        assert answer["start"] == pytest.approx(truth[truth_index][0], abs=0.05)
        assert answer["end"] == pytest.approx(truth[truth_index][1], abs=0.05)


def test_misheard_chinese_questions_are_matched_by_characters():
    asked_at = {s["words"][0]["start"] for s in ZH["segments"] if s["speaker"] == "interviewer"}
    stt = _mishear(zh_stt(), {"带领": "代领", "团队": "团对", "经历": "经理", "截止": "结止", "应对": "因对", "谈判": "谈盼"}, asked_at)
    result = run(stt, questions_of(ZH["segments"]), "zh")
    assert_answers_match_the_truth(result, ZH["segments"])
    assert all(0.8 <= a["asked"]["match"] < 1.0 for a in result["answers"])


@pytest.mark.parametrize("case", CASES)
def test_a_list_of_which_nothing_is_heard_falls_back_to_the_interviewers_turns(case):
    build, segments, language = CASES[case]
    other_interview = ["What is your favourite programming language and why?", "你为什么离开上一家公司？",
                       "Describe your ideal manager."]
    result = run(build(), other_interview, language)
    assert result["method"] == "interrogative_turns"
    assert (result["listed"], result["listed_heard"]) == (3, 0)
    assert_answers_match_the_truth(result, segments)
    # One listed question heard is enough for the list to be used, the others reported missing.
    result = run(build(), [questions_of(segments)[0]] + other_interview, language)
    assert result["method"] == "question_list" and "listed" not in result
    assert result["unanswered"] == [1, 2, 3]


def test_nothing_said_leaves_the_listed_questions_unanswered():
    empty = {"engine": "test", "language": "en", "text": "", "words": [], "segments": []}
    result = run(empty, ["Tell me about yourself."])
    assert result["method"] == "question_list"
    assert result["unanswered"] == [0] and result["answers"][0]["asked"] is None


def test_questions_asked_out_of_order():
    listed = questions_of(TRUTH["segments"])
    result = run(en_stt(), [listed[2], listed[0], listed[1]])
    truth = spans_by_question(TRUTH["segments"], "candidate")
    starts = [a["start"] for a in result["answers"]]
    assert starts == pytest.approx([truth[2][0], truth[0][0], truth[1][0]], abs=0.05)


def test_words_without_segments_are_cut_at_pauses():
    stt = en_stt()
    stt["segments"] = []
    result = run(stt)
    assert result["method"] == "interrogative_turns"
    truth = spans_by_question(TRUTH["segments"], "candidate")
    assert [(a["start"], a["end"]) for a in result["answers"]] == [pytest.approx(truth[i], abs=0.05) for i in range(3)]


def test_empty_or_missing_transcript():
    empty = {"engine": "test", "language": "en", "text": "", "words": [], "segments": []}
    assert run(empty)["answers"] == []
    result = run(empty, ["Tell me about yourself."])
    assert result["answers"][0]["asked"] is None and result["unanswered"] == [0]
    with pytest.raises(AnalyzerError, match="speech-to-text"):
        analyzer_questions.run(AnalysisInput(recording_id=1, audio_path=None, video_path=None, duration=1.0))


def test_description_and_a_light_import():
    (description,) = analyzer_questions.talentreel_analyzers()
    assert description == {"name": "questions", "version": analyzer_questions.VERSION,
                           "run": "talentreel.plugins.analyzer_questions:run", "needs": ["transcript"], "consent": "ai"}
    code = "import sys, talentreel.plugins.analyzer_questions; print('talentreel.server.analysis.text.align' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("text", [
    "Tell me about a time you failed.", "okay next question how would you handle a conflict",
    "what would you do differently", "Why did you leave your last job?", "walk me through your design",
    "你还有什么问题吗", "下一个问题，请介绍一下你最近的项目", "你为什么想加入我们公司", "谈谈你的职业规划",
])
def test_interviewers_questions_are_recognised_without_punctuation(text):
    from talentreel.server.analysis.text.interrogative import is_question

    assert is_question(text)


@pytest.mark.parametrize("text", [
    "What I did was ask the team for help", "um that is a good question", "First I list what must ship",
    "thank you that is all from my side", "我想说说我在上一家公司的经历", "嗯，那个，这个问题很好", "好的，谢谢你",
])
def test_answers_are_not_taken_for_questions(text):
    from talentreel.server.analysis.text.interrogative import is_question

    assert not is_question(text)
