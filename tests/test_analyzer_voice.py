"""The `voice` analyzer on the fixture interview, against truth.json: every silence listed there is
found within ±0.5 s with its kind, and no hesitation is reported inside fluent speech. Run on the
real pocketsphinx transcript (decoded once per session by test_analyzer_stt) and on transcripts
built from the truth; plus fillers, thresholds and bad input.
"""

from __future__ import annotations

import json

import pytest

from talentreel.plugins import analyzer_voice as voice
from talentreel.server.analysis.contract import AnalysisInput

from test_analyzer_stt import QUESTIONS, TRUTH, decoded_interview, interview_wav, write_wav

TOLERANCE = 0.5
SILENCE_KINDS = ("before_answer", "hesitation")


def truth_stt() -> dict:
    """The truth's sentences as an ASR gives them: lower case, words spread over each sentence."""
    segments = []
    for sentence in TRUTH["segments"]:
        said = [w.strip(",.?").lower() for w in sentence["text"].split()]
        step = (sentence["end"] - sentence["start"]) / len(said)
        words = [{"word": w, "start": round(sentence["start"] + i * step, 3),
                  "end": round(sentence["start"] + (i + 1) * step - 0.02, 3), "conf": 0.9} for i, w in enumerate(said)]
        segments.append({"start": sentence["start"], "end": sentence["end"], "text": " ".join(said), "words": words})
    return {"engine": "test", "model": "truth", "language": "en", "text": "", "words": [w for s in segments for w in s["words"]],
            "segments": segments}


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    return interview_wav(tmp_path_factory)


@pytest.fixture(scope="module")
def stt(tmp_path_factory):
    return decoded_interview(tmp_path_factory)


def analyse(wav, stt, questions=QUESTIONS, **kwargs) -> dict:
    part = voice.run(AnalysisInput(1, wav, wav, TRUTH["duration"], questions=list(questions), parts={"stt": stt}, **kwargs))
    json.dumps(part)  # the report stores it as JSON
    return part


def assert_matches_truth(part, kinds=True):
    found = [e for e in part["events"] if e["kind"] in SILENCE_KINDS]
    for silence in TRUTH["silences"]:
        close = [e for e in found if abs(e["start"] - silence["start"]) <= TOLERANCE and abs(e["end"] - silence["end"]) <= TOLERANCE]
        assert close, f"silence {silence} not found in {found}"
        if kinds:
            assert close[0]["kind"] == silence["kind"]
        print(f"{silence['kind']}: truth {silence['start']:.2f}-{silence['end']:.2f}, found "
              f"{close[0]['start']:.2f}-{close[0]['end']:.2f}")
    # Nothing else: every reported silence is one of the truth's, none inside fluent speech.
    assert len(found) == len(TRUTH["silences"]), found
    for event in found:
        for sentence in TRUTH["segments"]:
            inside = min(event["end"], sentence["end"]) - max(event["start"], sentence["start"])
            assert inside < TOLERANCE, (event, sentence)


def test_silences_of_the_truth_are_found_on_the_real_transcript(wav, stt):
    assert_matches_truth(analyse(wav, stt))


def test_silences_without_question_marks_in_the_transcript(wav, stt):
    """Turns found by the voice analyzer itself when the engine marked no question (e.g. Vosk)."""
    unmarked = json.loads(json.dumps(stt))
    for segment in unmarked["segments"]:
        segment.pop("question_index", None)
    assert_matches_truth(analyse(wav, unmarked))


def test_silences_on_a_transcript_built_from_the_truth(wav):
    assert_matches_truth(analyse(wav, truth_stt()))


def test_without_a_question_list_long_silences_are_still_reported(wav):
    part = analyse(wav, truth_stt(), questions=())
    assert_matches_truth(part, kinds=False)
    assert all(e["kind"] == "hesitation" for e in part["events"] if e["kind"] in SILENCE_KINDS)


def test_thresholds_come_from_the_calibration(wav, stt):
    part = analyse(wav, stt, thresholds={"voice.hesitation_min_seconds": 3.0, "voice.before_answer_min_seconds": 2.5})
    kinds = [e["kind"] for e in part["events"] if e["kind"] in SILENCE_KINDS]
    assert kinds == ["before_answer"]  # the 2.4 s hesitations are under 3 s; the 2.6 s wait is over 2.5 s
    assert part["thresholds"]["voice.hesitation_min_seconds"] == 3.0


def test_rates_and_variation_per_answer(wav, stt):
    part = analyse(wav, stt)
    rates = [e for e in part["events"] if e["kind"] == "speaking_rate"]
    assert [e["question_index"] for e in rates] == [0, 1, 2]
    for event in rates:
        assert 100 < event["wpm"] <= event["articulation_wpm"] < 260 and event["why"]
    # The second answer holds two long hesitations: its rate with pauses is well under the others'.
    assert rates[1]["wpm"] < 0.85 * min(rates[0]["wpm"], rates[2]["wpm"])
    pitch = [e for e in part["events"] if e["kind"] == "pitch_variation"]
    loudness = [e for e in part["events"] if e["kind"] == "loudness_variation"]
    assert len(pitch) == len(loudness) == 3
    assert all(0.5 < e["semitones"] < 8 for e in pitch) and all(1 < e["db"] < 20 for e in loudness)
    summary = part["summary"]
    assert summary["hesitations"] == 2 and summary["before_answer_silences"] == 1
    assert 120 < summary["overall_wpm"] < 200


def test_filler_words_are_events(wav):
    stt = truth_stt()  # the truth says "Um, that is a good question."
    part = analyse(wav, stt)
    fillers = [e for e in part["events"] if e["kind"] == "filler"]
    assert [(f["word"], f["start"]) for f in fillers] == [("um", 32.075)]
    assert part["summary"]["fillers"] == 1


def test_chinese_fillers(tmp_path):
    quiet = write_wav(tmp_path / "quiet.wav", b"\0\0" * 16000 * 4)
    words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": 0.9} for i, w in enumerate(["嗯", "那个", "我们", "这个", "项目"])]
    stt = {"engine": "test", "model": "", "language": "zh", "text": "嗯那个我们这个项目", "words": words,
           "segments": [{"start": 0.0, "end": 2.4, "text": "嗯那个我们这个项目", "words": words}]}
    part = voice.run(AnalysisInput(2, quiet, quiet, 4.0, language="zh", parts={"stt": stt}))
    assert [e["word"] for e in part["events"] if e["kind"] == "filler"] == ["嗯", "那个", "这个"]


def test_no_audio_track_gives_an_empty_part_saying_why():
    part = voice.run(AnalysisInput(3, None, None, 10.0, parts={"stt": truth_stt()}))
    assert part["events"] == [] and part["skipped"] == "the recording has no audio track"


def test_silence_only_reports_nothing(tmp_path):
    quiet = write_wav(tmp_path / "quiet.wav", b"\0\0" * 16000 * 6)
    empty = {"engine": "test", "model": "", "language": "en", "text": "", "words": [], "segments": []}
    part = voice.run(AnalysisInput(4, quiet, quiet, 6.0, parts={"stt": empty}))
    assert part["events"] == [] and part["summary"]["overall_wpm"] is None


def test_without_a_transcript_it_still_runs_on_the_audio(wav):
    part = voice.run(AnalysisInput(5, wav, wav, TRUTH["duration"]))
    assert part["transcript"].startswith("unavailable") and part["events"] == []
    assert part["summary"]["silent_seconds"] > 10
