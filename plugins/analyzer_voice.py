"""Built-in analyzer `voice`: how things were said, as timestamped evidence.

Cues, each an event ``{"kind", "start", "end", "why", ...}``:

- ``before_answer``: a silence of at least `voice.before_answer_min_seconds` between a question and the
  candidate's first words; ``hesitation``: a silence of at least `voice.hesitation_min_seconds` inside an
  answer. Silences come from the audio's loudness (`audio.levels`), not from gaps between
  recognised words, which are only as exact as the recogniser; the transcript then splits a
  silence where a recognised word lies inside it (quiet speech the loudness missed) and says whose
  turn each side of it is (`audio.turns`).
- ``speaking_rate``: words per minute over each answer (and articulation rate, pauses left out).
- ``filler``: a filler word of the interview's language (en: um, uh; zh: 嗯, 那个, 这个).
- ``pitch_variation`` / ``loudness_variation``: spread of pitch (semitones) and loudness (dB) over
  each answer's voiced frames.

Thresholds come from `inp.thresholds` (an organisation's calibration), defaulting to THRESHOLDS.
This module is imported on the web side for its hook, so NumPy (and the audio helpers using it) are
imported inside `run`, on the worker.
"""

from __future__ import annotations

from talentreel.server.analysis.audio.text import normalise_words
from talentreel.server.analysis.audio.turns import answers, mark_questions
from talentreel.server.analysis.audio.wav import wav_info
from talentreel.server.analysis.contract import STT_PART, TRANSCRIPT, AnalysisInput
from talentreel.server.plugins import hookimpl

NAME = "voice"
VERSION = "1"

THRESHOLDS = {
    "voice.hesitation_min_seconds": 2.0,  # silence inside an answer reported as a hesitation
    "voice.before_answer_min_seconds": 2.0,  # silence between a question and its answer reported
    "voice.pause_min_seconds": 0.3,  # shorter silences are part of fluent speech (articulation rate)
}
"""Thresholds an organisation's calibration may override through `inp.thresholds` (same keys)."""

FILLERS = {
    "en": {("um",), ("uh",)},
    "zh": {("嗯",), ("那", "个"), ("这", "个")},
}
"""Filler words per language, as normalised tokens (Chinese is compared character by character)."""

def describe() -> dict:
    return {
        "name": NAME,
        "version": VERSION,
        "run": "talentreel.plugins.analyzer_voice:run",
        "needs": ["audio", TRANSCRIPT],
        "consent": "vision_voice",
        # Reviewers' verdicts on these cues tune how long a silence must be to be reported
        # (server/review/calibration.py); the cue's length is what the threshold is compared with.
        "calibration": {
            "voice.hesitation_min_seconds": {"kinds": ["hesitation"], "default": THRESHOLDS["voice.hesitation_min_seconds"]},
            "voice.before_answer_min_seconds": {"kinds": ["before_answer"],
                                                "default": THRESHOLDS["voice.before_answer_min_seconds"]},
        },
    }


@hookimpl
def talentreel_analyzers():
    return [describe()]


def run(inp: AnalysisInput) -> dict:
    thresholds = {key: float(inp.thresholds.get(key, default)) for key, default in THRESHOLDS.items()}
    part = {"language": inp.language, "thresholds": thresholds, "events": []}
    if inp.audio_path is None:
        part["skipped"] = "the recording has no audio track"
        return part
    wav_info(inp.audio_path)
    transcript = inp.parts.get(STT_PART) or {}
    segments = [dict(s) for s in transcript.get("segments", [])]
    if inp.questions and not any("question_index" in s for s in segments):
        mark_questions(segments, inp.questions, inp.language)
    words = [w for s in segments for w in s.get("words", [])]
    if STT_PART not in inp.parts:
        part["transcript"] = "unavailable: silences from loudness only, no turns, rates or fillers"

    from talentreel.server.analysis.audio import levels as lv
    from talentreel.server.analysis.audio.pitch import pitch_track

    levels = lv.frame_levels(inp.audio_path)
    threshold = lv.speech_threshold(levels)
    shortest = thresholds["voice.pause_min_seconds"]
    pauses = lv.split_by_words(lv.silences(levels, shortest, threshold=threshold), words, shortest)
    events = _silence_events(pauses, segments, thresholds)
    units = answers(segments)
    events += _rate_events(units, pauses)
    events += _filler_events([w for u in units for w in u["words"]], inp.language)  # the candidate's, not the questions'
    events += _variation_events(units, levels, threshold, pitch_track(inp.audio_path))
    part["events"] = sorted(events, key=lambda e: (e["start"], e["kind"]))
    part["summary"] = _summary(part["events"], units, pauses, inp.duration)
    return part


def _silence_events(pauses, segments, thresholds):
    """Long silences classified by whose turn is on either side of them."""
    spoken = [s for s in segments if s.get("words")]
    has_turns = any("question_index" in s for s in spoken)
    events = []
    for pause in pauses:
        middle = (pause.start + pause.end) / 2  # word edges may stray into the silence by a few frames
        before = [s for s in spoken if s["end"] <= middle]
        after = [s for s in spoken if s["start"] >= middle]
        if not before or not after:
            continue  # lead-in or tail of the recording: nobody is hesitating
        prev, nxt = before[-1], after[0]
        if "question_index" in nxt:
            continue  # the interviewer's turn comes next: a gap between turns, not the candidate's
        length = round(pause.length, 2)
        if "question_index" in prev:
            if length >= thresholds["voice.before_answer_min_seconds"]:
                events.append({"kind": "before_answer", "start": pause.start, "end": pause.end, "seconds": length,
                               "question_index": prev["question_index"],
                               "why": f"{length:.1f} s of silence between question {prev['question_index'] + 1} and the answer"})
        elif length >= thresholds["voice.hesitation_min_seconds"]:
            where = "inside the answer" if has_turns else "between words (turns unknown: no question recognised)"
            events.append({"kind": "hesitation", "start": pause.start, "end": pause.end, "seconds": length,
                           "why": f"{length:.1f} s of silence {where}, after \"{_tail(prev)}\""})
    return events


def _tail(segment, n=4):
    return " ".join(w["word"] for w in segment["words"][-n:])


def _rate_events(units, pauses):
    events = []
    for unit in units:
        duration = unit["words"][-1]["end"] - unit["words"][0]["start"]
        if duration <= 0:
            continue
        paused = sum(max(0.0, min(p.end, unit["end"]) - max(p.start, unit["start"])) for p in pauses)
        wpm = 60.0 * len(unit["words"]) / duration
        articulation = 60.0 * len(unit["words"]) / max(duration - paused, 1e-3)
        events.append({"kind": "speaking_rate", "start": unit["start"], "end": unit["end"],
                       "wpm": round(wpm, 1), "articulation_wpm": round(articulation, 1),
                       "question_index": unit["question_index"],
                       "why": f"{len(unit['words'])} words in {duration:.1f} s: {wpm:.0f} words per minute "
                              f"({articulation:.0f} without pauses)"})
    return events


def _filler_events(words, language):
    fillers = FILLERS.get(language.lower().split("-")[0], set())
    events = []
    for word in words:
        tokens = tuple(normalise_words(word["word"], language))
        if tokens in fillers:
            events.append({"kind": "filler", "start": word["start"], "end": word["end"], "word": word["word"],
                           "why": f"filler word \"{word['word']}\""})
    return events


def _variation_events(units, levels, threshold, f0):
    import numpy as np

    from talentreel.server.analysis.audio.levels import FRAME_SECONDS
    from talentreel.server.analysis.audio.pitch import FRAME_SECONDS as PITCH_FRAME, semitone_spread

    events = []
    for unit in units:
        a, b = int(unit["start"] / FRAME_SECONDS), int(np.ceil(unit["end"] / FRAME_SECONDS))
        loud = levels[a:b]
        loud = loud[loud > threshold]
        if len(loud) >= 50:  # half a second of speech at least
            spread = float(np.std(loud))
            events.append({"kind": "loudness_variation", "start": unit["start"], "end": unit["end"],
                           "db": round(spread, 2), "median_dbfs": round(float(np.median(loud)), 1),
                           "why": f"loudness varies by {spread:.1f} dB (standard deviation) over this answer"})
        pitch = semitone_spread(f0[int(unit["start"] / PITCH_FRAME):int(np.ceil(unit["end"] / PITCH_FRAME))])
        if pitch is not None:
            events.append({"kind": "pitch_variation", "start": unit["start"], "end": unit["end"],
                           "semitones": round(pitch, 2),
                           "why": f"pitch varies by {pitch:.1f} semitones (standard deviation) over this answer"})
    return events


def _summary(events, units, pauses, duration):
    words = sum(len(u["words"]) for u in units)
    speaking = sum(u["words"][-1]["end"] - u["words"][0]["start"] for u in units)
    count = {kind: sum(e["kind"] == kind for e in events) for kind in ("hesitation", "before_answer", "filler")}
    return {
        "answer_words": words,
        "overall_wpm": round(60.0 * words / speaking, 1) if speaking > 0 else None,
        "hesitations": count["hesitation"],
        "before_answer_silences": count["before_answer"],
        "fillers": count["filler"],
        "fillers_per_minute": round(60.0 * count["filler"] / speaking, 2) if speaking > 0 else None,
        "silent_seconds": round(float(sum(p.length for p in pauses)), 2),
        "duration": duration,
    }
