"""Built-in analyzer `vision`: face presence, attention, smiles and movement, as timestamped events.

Frames are sampled at `vision_fps` (default 2 a second). Each sample is searched with OpenCV's Haar
cascades: a frontal face, else a profile face (either side); a smile inside the face; the face
centre against the frame centre. Consecutive samples give movement: the face centre's travel
(head) and how much of the picture changed (body). Per-sample states become spans with hysteresis
and a minimum length, so one missed detection is not an event. Every event is a moment with a
`why`, never a verdict: a face out of view may be a candidate reading notes.

Speed (a 2-core worker must do >= 12x real time at 2 fps): decoding skips frames no other frame
refers to, only sampled frames are converted, the luma plane is used as the grey picture without
any colour conversion, detection runs at DETECT_WIDTH pixels, and once a face is found the next
sample is searched around it at its scale before the whole frame is.

This module is imported on the web side for its hook, so OpenCV, NumPy and PyAV are imported
inside the functions that the worker runs, never at module level.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping

from talentreel.server.analysis.contract import AnalysisInput, AnalyzerError, AnalyzerUnavailable
from talentreel.server.plugins import hookimpl

NAME = "vision"
VERSION = "1.0"

DEFAULT_FPS = 2
"""Samples per second when the `vision_fps` setting is not given."""

DETECT_WIDTH = 320
"""Width of the grey picture the face cascades search: webcam faces are large, and the cost of a
search grows with the area."""

DIFF_SIZE = (64, 48)
"""Size of the blurred thumbnail compared between samples for body movement."""

SMILE_FACE_WIDTH = 120
"""Faces are rescaled to this width before the smile search, so one smile threshold fits every
camera resolution (the smile cascade's window is 36x18)."""

CASCADES = {
    "frontal": "haarcascade_frontalface_default.xml",
    "profile": "haarcascade_profileface.xml",
    "smile": "haarcascade_smile.xml",
}

DEFAULT_THRESHOLDS = {
    "vision.min_face": 0.10,  # smallest face searched for, as a fraction of the frame width
    "vision.off_centre": 0.6,  # face centre this far from the frame centre (1 = at the edge) is attention away
    "vision.head_speed": 0.4,  # face widths per second of face-centre travel that count as movement
    "vision.body_change": 0.04,  # fraction of the picture changed between two samples that counts as movement
    "vision.pixel_change": 18,  # grey levels a thumbnail pixel must change by to count as changed
    "vision.release": 0.5,  # a movement span goes on while its score stays above this share of the threshold
    "vision.smile_neighbors": 20,  # smile cascade minNeighbors: higher finds fewer, surer smiles
    "vision.min_event": 1.0,  # seconds: shorter spans are detector flicker and are dropped
    "vision.merge_gap": 1.0,  # seconds: spans of one kind closer than this are one event
}
"""Thresholds an organisation's calibration may override through `inp.thresholds` (same keys)."""

_cascades: dict | None = None


@hookimpl
def talentreel_analyzers():
    return [{
        "name": NAME,
        "version": VERSION,
        "run": "talentreel.plugins.analyzer_vision:run",
        "preload": "talentreel.plugins.analyzer_vision:preload",
        "needs": ["video"],
        "consent": "vision_voice",
        # Reviewers' verdicts on these cues tune the shortest span reported (server/review/calibration.py).
        "calibration": {"vision.min_event": {"kinds": ["face_absent", "attention_away", "smile", "movement"],
                                             "default": DEFAULT_THRESHOLDS["vision.min_event"]}},
    }]


def preload(settings: Mapping[str, Any]) -> None:
    """Load the cascades once per worker process, so forked work horses inherit them."""
    _fps(settings, AnalyzerUnavailable)
    _load_cascades()


def _load_cascades() -> dict:
    global _cascades
    if _cascades is None:
        import cv2

        loaded = {}
        for role, filename in CASCADES.items():
            path = cv2.data.haarcascades + filename
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():
                raise AnalyzerUnavailable(f"vision: OpenCV cascade {path} is missing or unreadable; "
                                          "install opencv-python-headless>=4.8,<5 (its wheels ship the cascades)")
            loaded[role] = cascade
        _cascades = loaded
    return _cascades


def _fps(settings: Mapping[str, Any], error: type[Exception] = AnalyzerError) -> float:
    fps = settings.get("vision_fps", DEFAULT_FPS)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 0 < fps <= 30:
        raise error(f"vision: setting 'vision_fps' must be a number of samples per second in (0, 30], got {fps!r}")
    return float(fps)


def run(inp: AnalysisInput) -> dict:
    cascades = _load_cascades()
    fps = _fps(inp.settings)
    limits = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in inp.thresholds.items() if k in DEFAULT_THRESHOLDS}}
    samples, frame_size, warnings = _sample(inp.video_path, fps, cascades, limits)
    if not samples:
        raise AnalyzerError("vision: the recording has no decodable video frame")
    # The last sample stands for one sampling step, cut at the recording's end; frames that stop
    # well before that end (a damaged file) are said, not papered over with a long last state.
    end = samples[-1].t + 1.0 / fps
    if inp.duration and samples[-1].t < inp.duration:
        end = min(end, inp.duration)
        if inp.duration - end > 2.0 / fps:
            warnings.append(f"video frames stop at {end:.1f} s of a {inp.duration:.1f} s recording")
    events = _events(samples, end, limits)
    return {
        "fps": fps,
        "samples": len(samples),
        "frame_size": frame_size,
        "summary": _summary(samples, events, end, limits),
        "events": events,
        "warnings": warnings,
    }


# --- sampling and detection -------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    face: tuple[float, float, float, float] | None  # x, y, w, h as fractions of the frame
    frontal: bool = False
    smile: bool = False
    thumb: Any = None  # blurred grey thumbnail (numpy) for frame differencing
    box: tuple[int, int, int, int] | None = None  # the face in detection pixels, to search near next time


def _frames(path, fps: float):
    """Yield (time, grey picture) about `fps` times a second, decoding as little as possible."""
    import av
    import numpy as np

    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise AnalyzerError(f"vision: cannot open the video: {exc}") from None
    with container:
        if not container.streams.video:
            raise AnalyzerError("vision: the recording has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # Frames no other frame refers to (most B-frames) are never needed to decode a later one;
        # at 2 samples a second of 25-30 fps video, skipping them costs at most a frame of timing.
        stream.codec_context.skip_frame = "NONREF"
        step, due = 1.0 / fps, 0.0
        for frame in container.decode(stream):
            t = frame.time
            if t is None or t + 0.5 / 30 < due:
                continue
            due = max(due + step, t + step / 2)  # never two samples from one stretch after a gap
            if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
                plane = frame.planes[0]  # the luma plane is the grey picture
                rows = np.frombuffer(plane, np.uint8, count=plane.line_size * frame.height)
                grey = rows.reshape(frame.height, plane.line_size)[:, : frame.width]
            else:
                grey = frame.to_ndarray(format="gray")
            turn = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
            if turn:  # a phone recording stored sideways, with the display rotation in its metadata
                grey = np.ascontiguousarray(np.rot90(grey, turn))
            yield max(t, 0.0), grey


def _sample(path, fps: float, cascades: dict, limits: dict) -> tuple[list[Sample], list[int], list[str]]:
    import av

    samples: list[Sample] = []
    warnings: list[str] = []
    frame_size: list[int] = []
    track = None
    frames = _frames(path, fps)
    # Threads are made here, in the work horse: a pool made at preload would not survive the fork.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="vision") as pool:
        while True:
            try:
                t, grey = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # a damaged tail: keep what was read, say where it stopped
                frames.close()
                if not samples:
                    raise AnalyzerError(f"vision: cannot decode the video: {exc}") from None
                warnings.append(f"decoding stopped after {samples[-1].t:.1f} s: {exc}")
                break
            frame_size = [grey.shape[1], grey.shape[0]]
            samples.append(_look(t, grey, cascades, track, limits, pool))
            track = samples[-1].box if samples[-1].frontal else None
    return samples, frame_size, warnings


def _look(t: float, grey, cascades: dict, track, limits: dict, pool) -> Sample:
    """One sample: the face (searched near `track`, the last frontal box, first), smile, thumbnail."""
    import cv2

    height, width = grey.shape
    scale = DETECT_WIDTH / width if width > DETECT_WIDTH else 1.0
    small = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else grey
    box, frontal = _find_face(small, cascades, track, limits, pool)
    sample = Sample(t, None, thumb=cv2.GaussianBlur(cv2.resize(small, DIFF_SIZE, interpolation=cv2.INTER_AREA), (5, 5), 0))
    if box is not None:
        x, y, w, h = box
        sh, sw = small.shape
        sample.box = box
        sample.face = (x / sw, y / sh, w / sw, h / sh)
        sample.frontal = frontal
        sample.smile = frontal and _smiles(grey, sample.face, cascades["smile"], limits)
    return sample


def _find_face(small, cascades: dict, track, limits: dict, pool):
    """(box in `small` pixels, frontal?) of the largest face, or (None, False)."""
    import cv2

    width = small.shape[1]
    if track is not None:  # near the last face, at its scale: a fraction of a full search
        x, y, w, h = track
        x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
        roi = small[y0: y + h + h // 2, x0: x + w + w // 2]
        found = cascades["frontal"].detectMultiScale(roi, 1.1, 5, minSize=(int(w * 0.75),) * 2, maxSize=(int(w * 1.33) + 1,) * 2)
        if len(found):
            fx, fy, fw, fh = max(found, key=lambda r: r[2] * r[3])
            return (int(fx) + x0, int(fy) + y0, int(fw), int(fh)), True
    min_size = (max(20, int(width * limits["vision.min_face"])),) * 2
    found = cascades["frontal"].detectMultiScale(small, 1.1, 5, minSize=min_size)
    if len(found):
        return tuple(int(v) for v in max(found, key=lambda r: r[2] * r[3])), True
    # The profile cascade knows faces turned to one side; the mirrored picture gives the other.
    # Both searches run at once (OpenCV releases the GIL): with no face in view, they are most
    # of the cost of a sample. A coarser scale step than the frontal search is enough for a fallback.
    def profiles(picture):
        return cascades["profile"].detectMultiScale(picture, 1.2, 5, minSize=min_size)

    for mirrored, found in zip((False, True), pool.map(profiles, (small, cv2.flip(small, 1)))):
        if len(found):
            x, y, w, h = (int(v) for v in max(found, key=lambda r: r[2] * r[3]))
            return ((width - x - w) if mirrored else x, y, w, h), False
    return None, False


def _smiles(grey, face, cascade, limits: dict) -> bool:
    """A smile in the lower half of the face, searched at full resolution rescaled to a fixed size."""
    import cv2

    height, width = grey.shape
    x, y, w, h = int(face[0] * width), int(face[1] * height), int(face[2] * width), int(face[3] * height)
    if w < 24 or h < 24:
        return False
    size = SMILE_FACE_WIDTH
    lower = cv2.resize(grey[y + h // 2: y + h, x: x + w], (size, size // 2), interpolation=cv2.INTER_AREA if w > size else cv2.INTER_LINEAR)
    found = cascade.detectMultiScale(lower, 1.1, int(limits["vision.smile_neighbors"]), minSize=(size // 4, size // 8))
    return len(found) > 0


# --- from samples to events -------------------------------------------------------------------


def _movement_scores(samples: list[Sample], limits: dict) -> list[tuple[float, float, float, str]]:
    """(start, end, score, source) per pair of consecutive samples that both show a face; a score
    of 1 is the threshold. A face appearing or leaving is a face_absent edge, not movement."""
    import numpy as np

    pairs = []
    for prev, cur in zip(samples, samples[1:]):
        if prev.face is None or cur.face is None:
            continue
        dt = max(cur.t - prev.t, 1e-3)
        head = 0.0
        if prev.frontal == cur.frontal:  # the two cascades frame a face differently
            (px, py, pw, ph), (cx, cy, cw, chh) = prev.face, cur.face
            travel = np.hypot((cx + cw / 2) - (px + pw / 2), (cy + chh / 2) - (py + ph / 2))
            head = float(travel / ((pw + cw) / 2) / dt)
        a, b = prev.thumb.astype(np.int16), cur.thumb.astype(np.int16)
        diff = np.abs((b - b.mean()) - (a - a.mean()))  # a brightness change of the whole picture is not movement
        body = float((diff > limits["vision.pixel_change"]).mean())
        head_score, body_score = head / limits["vision.head_speed"], body / limits["vision.body_change"]
        source = "head" if head_score >= body_score else "body"
        pairs.append((prev.t, cur.t, max(head_score, body_score), source))
    # A median of three removes one-pair spikes (a detector jump) and fills one-pair dips (a sway
    # caught at the same phase twice), without moving the edges of a real stretch.
    smoothed = []
    for i, (start, end, score, source) in enumerate(pairs):
        window = [p[2] for p in pairs[max(0, i - 1): i + 2] if abs(p[0] - start) < 3 * (end - start)]
        smoothed.append((start, end, sorted(window)[len(window) // 2], source))
    return smoothed


def _slots(samples: list[Sample], end: float) -> list[tuple[float, float]]:
    """The stretch each sample stands for: from halfway after the previous one to halfway before the next."""
    bounds = [0.0] + [(a.t + b.t) / 2 for a, b in zip(samples, samples[1:])] + [end]
    return list(zip(bounds, bounds[1:]))


def _spans(intervals, limits: dict) -> list[dict]:
    """Merge active (start, end, info) intervals into spans: gaps under merge_gap are bridged,
    spans under min_event dropped. `info` items are collected per span."""
    spans: list[dict] = []
    for start, end, info in intervals:
        if spans and start - spans[-1]["end"] <= limits["vision.merge_gap"]:
            spans[-1]["end"] = max(spans[-1]["end"], end)
            spans[-1]["info"].append(info)
        else:
            spans.append({"start": start, "end": end, "info": [info]})
    return [s for s in spans if s["end"] - s["start"] >= limits["vision.min_event"]]


def _hysteresis(pairs, release: float):
    active = False
    for start, end, score, source in pairs:
        active = score >= 1.0 or (active and score >= release)
        if active:
            yield start, end, (score, source)


def _off_centre(face) -> float:
    x, y, w, h = face
    return max(abs(x + w / 2 - 0.5), abs(y + h / 2 - 0.5)) * 2


def _events(samples: list[Sample], end: float, limits: dict) -> list[dict]:
    slots = _slots(samples, end)
    events = []

    def add(kind, spans, why):
        for span in spans:
            events.append({"kind": kind, "start": round(span["start"], 2), "end": round(span["end"], 2), "why": why(span)})

    absent = [(a, b, s) for (a, b), s in zip(slots, samples) if s.face is None]
    add("face_absent", _spans(absent, limits),
        lambda sp: f"no face found in {len(sp['info'])} samples from {sp['start']:.1f} s to {sp['end']:.1f} s")

    away = [(a, b, s) for (a, b), s in zip(slots, samples)
            if s.face is not None and (not s.frontal or _off_centre(s.face) > limits["vision.off_centre"])]
    add("attention_away", _spans(away, limits),
        lambda sp: (f"face turned to the side in {sum(not s.frontal for s in sp['info'])} and far from the frame centre "
                    f"in {sum(s.frontal for s in sp['info'])} of {len(sp['info'])} samples"))

    smiling = [(a, b, s) for (a, b), s in zip(slots, samples) if s.smile]
    add("smile", _spans(smiling, limits), lambda sp: f"smile detected in {len(sp['info'])} samples")

    moving = list(_hysteresis(_movement_scores(samples, limits), limits["vision.release"]))
    add("movement", _spans(moving, limits),
        lambda sp: (f"{'head' if sum(i[1] == 'head' for i in sp['info']) * 2 >= len(sp['info']) else 'body'} movement, "
                    f"peak {max(i[0] for i in sp['info']):.1f}x the movement threshold"))
    return sorted(events, key=lambda e: (e["start"], e["kind"]))


def _summary(samples: list[Sample], events: list[dict], end: float, limits: dict) -> dict:
    with_face = [s for s in samples if s.face is not None]
    faced = len(with_face) or 1
    attentive = sum(s.frontal and _off_centre(s.face) <= limits["vision.off_centre"] for s in with_face)

    def seconds(kind):
        return round(sum(e["end"] - e["start"] for e in events if e["kind"] == kind), 2)

    return {
        "face_present_ratio": round(len(with_face) / len(samples), 3),
        "attention_ratio": round(attentive / faced, 3),  # of the time a face is in view
        "smile_ratio": round(sum(s.smile for s in with_face) / faced, 3),
        "movement_ratio": round(seconds("movement") / end, 3) if end else 0.0,
        "face_absent_seconds": seconds("face_absent"),
        "attention_away_seconds": seconds("attention_away"),
        "movement_seconds": seconds("movement"),
    }
