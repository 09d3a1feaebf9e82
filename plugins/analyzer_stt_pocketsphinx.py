"""Built-in analyzer `stt-pocketsphinx`: speech-to-text with word times, using the US-English model
that ships inside the `pocketsphinx` wheel (nothing is downloaded, ever).

It is the default engine for the report's `stt` part (see contract.STT_PART); the `stt_engine`
setting picks another analyzer that provides `stt`, such as `stt-vosk`.

How it decodes, and why:

1. The WAV streams through a voice-activity detector (WebRTC's, bundled with pocketsphinx) and is
   cut into utterances at pauses (`audio.utterances`); each is decoded on its own. Memory stays
   bounded by the longest utterance, and the search restarts at every pause instead of dragging
   one hypothesis over an hour of audio.
2. The interview's questions are known (`inp.questions`). Where the first pass heard something
   close to a question, the question's own words are force-aligned to that stretch of audio, and
   kept if the alignment succeeds and fits the sound at least as well as the free decode: the
   interviewer read that question, and the aligner then gives its exact words and times. The
   candidate's speech is never forced; a question only replaces a near-identical hearing of itself.
3. Utterances are independent, so they are shared out between `analysis_processes` forked
   processes (one per core by default; `server/analysis/parallel.py`), every one decoding with
   the model the worker loaded once. Each process runs the (cheap) detector over the whole file,
   so all agree on the utterances, and decodes every n-th; the parent puts them back in order.
"""

from __future__ import annotations

import math
import threading

from talentreel.server.analysis import parallel
from talentreel.server.analysis.audio import turns
from talentreel.server.analysis.audio.text import normalise_words
from talentreel.server.analysis.audio.utterances import cut_utterances
from talentreel.server.analysis.audio.wav import SAMPLE_RATE, read_frames, wav_info
from talentreel.server.analysis.audio.wer import find_phrase
from talentreel.server.analysis.contract import STT_PART, AnalysisInput, AnalyzerError
from talentreel.server.plugins import hookimpl

NAME = "stt-pocketsphinx"
ENGINE = "pocketsphinx"
VERSION = "1"
MODEL = "en-us (pocketsphinx wheel)"
LANGUAGES = ("en",)

FRAME_RATE = 100
"""pocketsphinx's feature frames per second: word times come in these frames."""

VAD_MODE = 0
"""WebRTC VAD aggressiveness 0 (most permissive): a missed soft word costs more than decoding a pause."""

QUESTION_MAX_ERROR = turns.QUESTION_MAX_ERROR
"""A stretch of the first pass is taken for a known question when at most this fraction of the
question's words differ (recognition errors on read speech are well under this; a different
sentence sharing a few words is well over it)."""

QUESTION_MIN_WORDS = 4
"""Shorter questions ("Why?") match too much by chance to be aligned."""

NON_WORDS = {"<s>", "</s>", "<sil>"}

_lock = threading.Lock()
_decoder = None
LOADS = 0
"""How many times this process loaded the model: once, whatever the number of jobs."""


def describe() -> dict:
    return {
        "name": NAME,
        "version": VERSION,
        "part": STT_PART,  # every speech-to-text engine writes the report's `stt` part
        "engine": ENGINE,
        "run": "talentreel.plugins.analyzer_stt_pocketsphinx:run",
        "preload": "talentreel.plugins.analyzer_stt_pocketsphinx:preload",
        "needs": ["audio"],
        "consent": "ai",
        "languages": list(LANGUAGES),
    }


@hookimpl
def talentreel_analyzers():
    return [describe()]


def preload(settings=None) -> None:
    """Load the model into this process (the worker calls this before forking work horses)."""
    _load()


def _load():
    global _decoder, LOADS
    with _lock:
        if _decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError as exc:  # pragma: no cover - an installation problem, named clearly
                from talentreel.server.analysis.contract import AnalyzerUnavailable

                raise AnalyzerUnavailable(f"analyzer {NAME} needs the 'pocketsphinx' package: {exc}") from None
            _decoder = Decoder(loglevel="FATAL")  # the wheel's default model: en-us acoustic model, LM, dictionary
            LOADS += 1
        return _decoder


def run(inp: AnalysisInput) -> dict:
    part = {"engine": ENGINE, "model": MODEL, "language": inp.language, "text": "", "words": [], "segments": []}
    if inp.audio_path is None:
        # A recording without sound is valid input with nothing to transcribe, not a failure.
        part["skipped"] = "the recording has no audio track"
        return part
    if not inp.language.lower().startswith(LANGUAGES):
        raise AnalyzerError(f"{NAME} has only a US-English model and this interview is in '{inp.language}'; "
                            "set vosk_model_path to a Vosk model of that language")
    wav_info(inp.audio_path)
    decoder = _load()
    questions = [(i, normalise_words(q, "en")) for i, q in enumerate(inp.questions)]
    questions = [(i, q) for i, q in questions if len(q) >= QUESTION_MIN_WORDS]
    shares = parallel.processes_for((inp.settings or {}).get("analysis_processes", 0))
    with _lock:  # one decoder per process; a threaded caller must not interleave utterances
        decoded = parallel.fork_map(lambda share: _decode_share(decoder, inp.audio_path, questions, share, shares),
                                    shares)
    for _, segments in sorted((item for share in decoded for item in share), key=lambda item: item[0]):
        part["segments"].extend(segments)
    part["words"] = [w for s in part["segments"] for w in s["words"]]
    part["text"] = " ".join(s["text"] for s in part["segments"])
    return part


def _decode_share(decoder, audio_path, questions, share: int, shares: int) -> list[tuple[int, list[dict]]]:
    """[(utterance number, its segments)] for every `shares`-th utterance, starting at `share`."""
    from pocketsphinx import Vad

    vad = Vad(VAD_MODE, SAMPLE_RATE)
    frame_samples = vad.frame_bytes // 2
    out = []
    for number, utterance in enumerate(cut_utterances(read_frames(audio_path, frame_samples), vad.is_speech,
                                                      frame_samples / SAMPLE_RATE)):
        if number % shares != share:
            continue
        words, fit = _decode(decoder, utterance.audio, utterance.start)
        out.append((number, _segments(decoder, utterance, words, fit, questions)))
    return out


def _decode(decoder, audio: bytes, offset: float, align_text: str | None = None):
    """Decode one utterance; return its words (times from the recording's start) and the acoustic
    fit per frame (log scale, higher is better), or (None, None) when an alignment fails."""
    # The n-gram search is the active one unless an alignment is asked for (and the aligning
    # caller switches back at once). Re-activating it per utterance rebuilt the search: +20 % time.
    if align_text is not None:
        decoder.set_align_text(align_text)
    decoder.start_utt()
    decoder.process_raw(audio, False, True)
    decoder.end_utt()
    if decoder.hyp() is None:
        return None, None
    words, log_ascore, frames = [], 0.0, 0
    for seg in decoder.seg():
        log_ascore += math.log(max(seg.ascore, 1e-300))
        frames = max(frames, seg.end_frame + 1)
        token = seg.word.split("(", 1)[0]  # "to(2)" is the second pronunciation of "to"
        if token in NON_WORDS or token.startswith(("[", "+")):
            continue
        words.append({"word": token, "start": round(offset + seg.start_frame / FRAME_RATE, 2),
                      "end": round(offset + (seg.end_frame + 1) / FRAME_RATE, 2),
                      "conf": round(float(seg.prob), 3)})
    return words, log_ascore / max(frames, 1)


def _segments(decoder, utterance, words, fit, questions) -> list[dict]:
    """The utterance's words as report segments; a recognised question becomes its own segment."""
    if not words:
        return []
    matched = _aligned_question(decoder, utterance, words, fit, questions)
    if matched is None:
        return [_segment(words)]
    index, before, question, after = matched
    pieces = [_segment(before), dict(_segment(question), question_index=index), _segment(after)]
    return [p for p in pieces if p["words"]]


def _aligned_question(decoder, utterance, words, fit, questions):
    """(question index, words before, the question's words, words after) when the utterance holds
    a known question, else None. A question heard with errors is force-aligned to the audio and
    kept only if the aligner accepts it and its acoustic fit is no worse than the free decode's."""
    tokens = [w["word"] for w in words]
    best = None
    for index, question in questions:
        match = find_phrase(tokens, question)
        if match and match.error_rate(len(question)) <= QUESTION_MAX_ERROR and (best is None or match.distance < best[1].distance):
            best = (index, match, question)
    if best is None:
        return None
    index, match, question = best
    if match.distance == 0:
        return index, words[:match.start], words[match.start:match.end], words[match.end:]
    text = " ".join(tokens[:match.start] + question + tokens[match.end:])
    try:
        aligned, aligned_fit = _decode(decoder, utterance.audio, utterance.start, align_text=text)
    except RuntimeError:  # a question word missing from the dictionary: keep what was heard
        return None
    finally:
        decoder.activate_search()
    q_end = match.start + len(question)
    if aligned is None or aligned_fit < fit or len(aligned) != q_end + len(tokens) - match.end:
        return None
    # Outside the question the words are the first pass's, and so are their confidences; the
    # question's words were given, not guessed.
    for k, word in enumerate(aligned):
        if k < match.start:
            word["conf"] = words[k]["conf"]
        elif k >= q_end:
            word["conf"] = words[match.end + k - q_end]["conf"]
        else:
            word["conf"] = 1.0
    return index, aligned[:match.start], aligned[match.start:q_end], aligned[q_end:]


def _segment(words: list[dict]) -> dict:
    if not words:
        return {"start": 0.0, "end": 0.0, "text": "", "words": []}
    return {"start": words[0]["start"], "end": words[-1]["end"], "text": " ".join(w["word"] for w in words),
            "words": words}
