"""Built-in analyzer `stt-vosk`: speech-to-text with word times from any Vosk (Kaldi) model directory
named by the `vosk_model_path` setting: Chinese, English, Korean, ... whatever the operator installed.

It provides the report's `stt` part (contract.STT_PART) when chosen by the `stt_engine` setting
(by default whenever `vosk_model_path` is set). The model is loaded once per worker process by
`preload`, which checks the directory first, so a wrong path stops the worker at start-up with the
setting named, not at the first interview. Audio streams through the recognizer in half-second
chunks; Vosk's own endpointing splits it into utterances, each becoming a segment.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from talentreel.server.analysis.audio.wav import SAMPLE_RATE, read_chunks, wav_info
from talentreel.server.analysis.audio.turns import mark_questions
from talentreel.server.analysis.contract import STT_PART, AnalysisInput, AnalyzerError, AnalyzerUnavailable
from talentreel.server.plugins import hookimpl

NAME = "stt-vosk"
ENGINE = "vosk"
VERSION = "1"
SETTING = "vosk_model_path"

REQUIRED_FILES = ("am/final.mdl", "conf/mfcc.conf")
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
"""A Vosk model has an acoustic model, its feature configuration, and a decoding graph: either a
static HCLG or the pair of a lookahead model (HCLr + Gr)."""

_lock = threading.Lock()
_models: dict[str, object] = {}
LOADS = 0
"""How many models this process loaded: one per configured path, whatever the number of jobs."""


def describe() -> dict:
    return {
        "name": NAME,
        "version": VERSION,
        "part": STT_PART,  # every speech-to-text engine writes the report's `stt` part
        "engine": ENGINE,
        "run": "talentreel.plugins.analyzer_stt_vosk:run",
        "preload": "talentreel.plugins.analyzer_stt_vosk:preload",
        "needs": ["audio"],
        "consent": "ai",
    }


@hookimpl
def talentreel_analyzers():
    return [describe()]


def check_model_dir(path) -> Path:
    """The model directory named by the setting, or AnalyzerUnavailable saying what is wrong."""
    if not path:
        raise AnalyzerUnavailable(f"analyzer {NAME} needs the setting '{SETTING}': the directory of a Vosk model")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise AnalyzerUnavailable(f"setting '{SETTING}': {directory} does not exist or is not a directory")
    missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
    if not any(all((directory / f).is_file() for f in graph) for graph in GRAPHS):
        missing.append(" or ".join(" + ".join(graph) for graph in GRAPHS))
    if missing:
        raise AnalyzerUnavailable(f"setting '{SETTING}': {directory} holds no Vosk model (missing {', '.join(missing)})")
    return directory.resolve()


def preload(settings) -> None:
    """Check and load the configured model into this process (before work horses fork)."""
    _model(settings.get(SETTING))


def _model(path):
    global LOADS
    directory = check_model_dir(path)
    with _lock:
        model = _models.get(str(directory))
        if model is None:
            try:
                import vosk
            except ImportError as exc:
                raise AnalyzerUnavailable(f"analyzer {NAME} needs the 'vosk' package: {exc}") from None
            vosk.SetLogLevel(-1)  # Kaldi logs every step to stderr otherwise
            try:
                model = vosk.Model(str(directory))
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise AnalyzerUnavailable(f"setting '{SETTING}': the Vosk model in {directory} failed to load ({exc})") from None
            _models[str(directory)] = model
            LOADS += 1
        return model, directory


def run(inp: AnalysisInput) -> dict:
    path = inp.settings.get(SETTING)
    part = {"engine": ENGINE, "model": _model_name(Path(path)) if path else "", "language": inp.language,
            "text": "", "words": [], "segments": []}
    if inp.audio_path is None:
        part["skipped"] = "the recording has no audio track"  # valid input with nothing to transcribe
        return part
    wav_info(inp.audio_path)
    try:
        model, directory = _model(path)
    except AnalyzerUnavailable as exc:
        raise AnalyzerError(str(exc)) from None
    part["model"] = _model_name(directory)
    import vosk

    recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
    recognizer.SetWords(True)
    results = []
    for chunk in read_chunks(inp.audio_path):
        if recognizer.AcceptWaveform(chunk):  # an endpoint: the utterance so far is final
            results.append(recognizer.Result())
    results.append(recognizer.FinalResult())
    joiner = "" if _unspaced(inp.language) else " "
    for raw in results:
        words = [{"word": w["word"], "start": round(w["start"], 2), "end": round(w["end"], 2),
                  "conf": round(float(w.get("conf", 1.0)), 3)} for w in json.loads(raw).get("result", [])]
        if words:
            part["segments"].append({"start": words[0]["start"], "end": words[-1]["end"],
                                     "text": joiner.join(w["word"] for w in words), "words": words})
    mark_questions(part["segments"], inp.questions, inp.language)  # turns for the voice analyzer
    part["words"] = [w for s in part["segments"] for w in s["words"]]
    part["text"] = joiner.join(s["text"] for s in part["segments"])
    return part


def _unspaced(language: str) -> bool:
    """Languages written without spaces between words."""
    return language.lower().split("-")[0] in ("zh", "ja", "th")


def _model_name(directory: Path) -> str:
    """What the report calls the model: its directory, with the parent when that is just "model"."""
    return f"{directory.parent.name}/{directory.name}" if directory.name == "model" else directory.name
