"""Speech-to-text with pocketsphinx (the default engine) on the fixture interview, and the shared
audio helpers it stands on (chunked WAV reading, utterance cutting, normalisation, WER).

The fixture is decoded once per test session and the part cached as JSON in pytest's base temp
directory; test_analyzer_voice imports `interview_wav` and `decoded_interview` to share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tracemalloc
import wave
from pathlib import Path

import pytest

from talentreel.plugins import analyzer_stt_pocketsphinx as ps
from talentreel.server.analysis.audio.text import normalise_words, spell_number
from talentreel.server.analysis.audio.utterances import cut_utterances
from talentreel.server.analysis.audio.wav import SAMPLE_RATE, read_frames
from talentreel.server.analysis.audio.wer import find_phrase, word_error_rate, word_errors
from talentreel.server.analysis.contract import AnalysisInput, AnalyzerError

from conftest import FIXTURES

INTERVIEW = FIXTURES / "interview_en"
TRUTH = json.loads((INTERVIEW / "truth.json").read_text())
QUESTIONS = [s["text"] for s in TRUTH["segments"] if s["speaker"] == "interviewer"]
REFERENCE = " ".join(s["text"] for s in TRUTH["segments"])  # both speakers, as the recording has them

MAX_WER = 0.15


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def interview_wav(tmp_path_factory) -> Path:
    """The fixture's sound as the analysis job makes it (16 kHz mono s16le), once per session."""
    from talentreel.server.media.ffmpeg import ffmpeg_executable

    path = tmp_path_factory.getbasetemp() / "interview_en.wav"
    if not path.exists():
        tmp = path.with_name(f"part-{os.getpid()}.wav")
        subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(INTERVIEW / "interview.mp4"),
                        "-ac", "1", "-ar", "16000", "-f", "wav", str(tmp)], check=True)
        os.replace(tmp, path)
    return path


def decoded_interview(tmp_path_factory) -> dict:
    """The pocketsphinx part for the fixture, given its question list; decoded once per session."""
    path = tmp_path_factory.getbasetemp() / "interview_en.stt.json"
    if not path.exists():
        wav = interview_wav(tmp_path_factory)
        part = ps.run(AnalysisInput(1, wav, INTERVIEW / "interview.mp4", TRUTH["duration"], questions=QUESTIONS))
        _atomic_write(path, json.dumps(part).encode())
    return json.loads(path.read_text())


def write_wav(path: Path, samples: bytes, rate: int = SAMPLE_RATE, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return path


@pytest.fixture(scope="module")
def part(tmp_path_factory):
    return decoded_interview(tmp_path_factory)


# --- the engine on the fixture -----------------------------------------------------------------


def test_word_error_rate_on_fixture_is_at_most_15_percent(part):
    rate = word_error_rate(REFERENCE, part["text"])
    print(f"pocketsphinx WER on the fixture interview: {rate:.3f}")
    assert rate <= MAX_WER


def test_part_has_the_contract_shape_with_ordered_word_times(part):
    assert part["engine"] == "pocketsphinx" and part["language"] == "en" and part["model"]
    assert part["words"] == [w for s in part["segments"] for w in s["words"]]
    assert part["text"] == " ".join(s["text"] for s in part["segments"])
    previous_end = 0.0
    for word in part["words"]:
        assert set(word) == {"word", "start", "end", "conf"}
        assert previous_end - 0.05 <= word["start"] < word["end"] <= TRUTH["duration"] + 0.1
        assert 0.0 <= word["conf"] <= 1.0 and "(" not in word["word"] and not word["word"].startswith("<")
        previous_end = word["end"]
    for segment in part["segments"]:
        assert segment["start"] == segment["words"][0]["start"] and segment["end"] == segment["words"][-1]["end"]


def test_words_land_inside_the_sentence_that_said_them(part):
    """Every recognised word lies within 0.5 s of a sentence of the truth: none in the silences."""
    spans = [(s["start"] - 0.5, s["end"] + 0.5) for s in TRUTH["segments"]]
    for word in part["words"]:
        assert any(a <= word["start"] and word["end"] <= b for a, b in spans), word


def test_questions_heard_are_aligned_to_their_own_words(part):
    marked = [s for s in part["segments"] if "question_index" in s]
    assert marked, "no question of the list was recognised"
    for segment in marked:
        truth = next(s for s in TRUTH["segments"] if s["speaker"] == "interviewer" and s["question_index"] == segment["question_index"])
        assert segment["text"] == " ".join(normalise_words(truth["text"]))
        assert abs(segment["start"] - truth["start"]) < 0.5 and abs(segment["end"] - truth["end"]) < 0.5
    answers = [s for s in part["segments"] if "question_index" not in s]
    assert len(answers) >= 9  # the candidate's sentences are never forced onto a question


def test_model_is_loaded_once_per_process(tmp_path):
    ps.preload({})
    decoder, loads = ps._decoder, ps.LOADS
    ps.preload({})
    silence = write_wav(tmp_path / "quiet.wav", b"\0\0" * SAMPLE_RATE)
    ps.run(AnalysisInput(2, silence, tmp_path / "v.mp4", 1.0))
    assert ps._decoder is decoder and ps.LOADS == loads == 1


def test_description_names_part_and_importable_functions():
    (description,) = ps.talentreel_analyzers()
    assert description["name"] == "stt-pocketsphinx" and description["part"] == "stt"
    from talentreel.server.analysis.runner import resolve

    assert resolve(description["run"]) is ps.run and resolve(description["preload"]) is ps.preload


# --- bad input -----------------------------------------------------------------------------------


def test_no_audio_track_gives_an_empty_part_saying_why(tmp_path):
    part = ps.run(AnalysisInput(3, None, tmp_path / "v.mp4", 10.0))
    assert part["words"] == [] and part["segments"] == [] and part["text"] == ""
    assert part["skipped"] == "the recording has no audio track"


def test_silence_only_gives_no_words(tmp_path):
    quiet = write_wav(tmp_path / "silence.wav", b"\0\0" * SAMPLE_RATE * 5)
    part = ps.run(AnalysisInput(4, quiet, tmp_path / "v.mp4", 5.0, questions=QUESTIONS))
    assert part["words"] == [] and part["segments"] == [] and "skipped" not in part


def test_wav_in_another_format_is_refused_clearly(tmp_path):
    stereo = write_wav(tmp_path / "cd.wav", b"\0\0" * 44100 * 2, rate=44100, channels=2)
    with pytest.raises(AnalyzerError, match="44100 Hz, 2 channel"):
        ps.run(AnalysisInput(5, stereo, tmp_path / "v.mp4", 1.0))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AnalyzerError, match="not a readable WAV"):
        ps.run(AnalysisInput(5, broken, tmp_path / "v.mp4", 1.0))


def test_other_languages_are_refused_naming_the_setting(tmp_path):
    quiet = write_wav(tmp_path / "silence.wav", b"\0\0" * 1600)
    with pytest.raises(AnalyzerError, match="vosk_model_path"):
        ps.run(AnalysisInput(6, quiet, tmp_path / "v.mp4", 0.1, language="zh"))


# --- bounded memory ------------------------------------------------------------------------------


def test_wav_streams_through_in_bounded_memory(tmp_path):
    """Ten minutes of audio (19 MB) read frame by frame never holds more than a chunk."""
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(SAMPLE_RATE)
        for _ in range(600):
            out.writeframes(b"\1\0" * SAMPLE_RATE)
    tracemalloc.start()
    count = sum(1 for _ in read_frames(path, 480))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 600 * SAMPLE_RATE // 480
    assert peak < 1_000_000


def test_utterances_are_cut_at_pauses_and_at_the_length_limit():
    frame = b"\0\0" * 480
    pattern = [True] * 100 + [False] * 50 + [True] * 2000  # 3 s speech, 1.5 s pause, 60 s non-stop speech
    frames = iter(frame for _ in pattern)
    flags = iter(pattern)
    cut = list(cut_utterances(frames, lambda f: next(flags), 0.03, min_gap=0.5, pad=0.3, max_seconds=20.0))
    assert abs(cut[0].start - 0.0) < 1e-9 and abs(cut[0].end - 3.3) < 0.05
    assert abs(cut[1].start - 4.2) < 0.05  # the pause's last 0.3 s come along as pre-roll
    assert all(u.end - u.start <= 20.0 + 1e-6 for u in cut)
    assert abs(cut[-1].end - 64.5) < 0.05 and len(cut) == 5


# --- normalisation and WER ----------------------------------------------------------------------


def test_normalisation_is_the_usual_scoring_one():
    assert normalise_words("Um, I led 4 engineers -- don't you think? On-boarding!") == \
        ["um", "i", "led", "four", "engineers", "don't", "you", "think", "on", "boarding"]
    assert spell_number(2024) == ["two", "thousand", "twenty", "four"]
    assert normalise_words("请介绍一次。", "zh") == ["请", "介", "绍", "一", "次"]


def test_word_errors_count_each_kind():
    errors = word_errors("a b c d".split(), "a x c d e".split())
    assert (errors.substitutions, errors.deletions, errors.insertions, errors.rate) == (1, 0, 1, 0.5)
    assert word_error_rate("Two weeks early.", "two weeks") == pytest.approx(1 / 3)
    assert word_error_rate("", "") == 0.0


def test_a_question_is_found_inside_a_longer_transcript():
    tokens = "okay thanks tell me about the time he worked in a team so".split()
    match = find_phrase(tokens, normalise_words("Tell me about a time you worked in a team."))
    assert (match.start, match.end, match.distance) == (2, 12, 2)  # "tell" .. "team"
