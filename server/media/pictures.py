"""The poster and the thumbnail sprite, from one pass over the recording's pictures, in-process.

Both come from the source's keyframes only (the demuxer hands the decoder nothing else), so a
ten-minute interview costs a few dozen small decodes. They used to be two more ffmpeg processes
beside the one making video.mp4; on a remux, where that ffmpeg only copies packets, starting two
more processes from a large worker (a fork each: ffmpeg must die with the job, which rules out
vfork) and tiling their raw output afterwards cost as much as the copy itself. Here one thread
does both while ffmpeg copies, and PyAV decodes without holding the GIL.

Which picture goes where, as ffmpeg's fps and tpad filters chose before:
- thumbnail i shows the latest picture before (i + 1/2) x interval seconds from the start of the
  recording, i.e. times are rounded to the nearest slot as the fps filter rounds them (the first
  picture for slots before it, the last one past the end);
- the poster is the first picture at or after POSTER_AT of the duration, else the last one (a
  camera switched off early), so there always is a poster.

`exact` decodes every picture instead of keyframes: each thumbnail then shows its own moment,
for a full decode's price.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from . import sprite

POSTER_AT = 0.10
"""Where the poster is taken, as a fraction of the duration: past the dark first frames of a webcam."""
POSTER_MAX_WIDTH = 1280
POSTER_QUALITY = 3
"""mjpeg quantizer, 2 (best) .. 31."""


class Abandoned(Exception):
    """The job gave up (another part failed, a cancel) while pictures were being made."""


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


class _Scaler:
    """Frames to at most `width` pixels wide (never enlarged), the height in proportion and even,
    as 8-bit 4:2:0 in full range (yuvj420p: what the JPEG encoder takes, so the range is widened
    in the same pass as the scaling instead of in one more pass over the poster and the sprite;
    the tile filter takes it too). One reformatter is kept for all frames: `frame.reformat`
    builds a new scaler every call, six times the cost here."""

    def __init__(self, width: int):
        self.width, self.reformatter = width, VideoReformatter()

    def __call__(self, frame):
        width = min(self.width, frame.width)
        width -= width % 2
        return self.reformatter.reformat(frame, width=width, height=_even(frame.height * width / frame.width),
                                         format="yuvj420p", interpolation="AREA")


def _shown(packets, slots: list[float], poster_at: float, start: float):
    """The keyframe packets among `packets` whose pictures make() shows, in their order: the
    first; each one followed by a slot's end before the next keyframe (it is the latest picture
    before that end); the first at or after poster_at; the last. The others are never decoded:
    with a keyframe every second or two, most of them (a thumbnail every 6 s in ten minutes).

    Whether a keyframe is shown depends on the next one's time, so each is held back until that
    arrives. A packet this cannot judge (no time, not a keyframe, the flush at the end) goes to the
    decoder as it is, after the held one, which is then decoded too to keep their order."""
    held = None  # (packet, time) of the latest keyframe, not yet judged
    slot = 0  # the first slot ending at or after the held keyframe's time
    poster_seen = decoded = False

    def take(packet, at):
        nonlocal poster_seen, decoded
        decoded = True
        poster_seen = poster_seen or (at is not None and at >= poster_at)
        return packet

    for packet in packets:
        if not (packet.size and packet.is_keyframe and packet.pts is not None and packet.time_base):
            if held is not None:
                yield take(*held)
                held = None
            yield take(packet, None)
            continue
        at = float(packet.pts * packet.time_base) - start
        if held is not None:
            previous, previous_at = held
            while slot < len(slots) and slots[slot] < previous_at:
                slot += 1
            if (not decoded or (slot < len(slots) and slots[slot] < at)
                    or (not poster_seen and previous_at >= poster_at)):
                yield take(previous, previous_at)
        held = (packet, at)
    if held is not None:
        yield take(*held)


def make(source: Path, out_dir: Path, duration: float, grid: dict, poster_name: str, sprite_name: str,
         index_name: str, exact: bool = False, abandon: threading.Event | None = None) -> None:
    """Write the poster and the sprite with its index for the recording at `source` into out_dir."""
    slots = [(i + 0.5) * grid["interval"] for i in range(grid["count"])]  # where each slot's pictures end
    small, large = _Scaler(sprite.THUMB_WIDTH), _Scaler(POSTER_MAX_WIDTH)
    poster_at = POSTER_AT * duration
    thumbnails: list = [None] * len(slots)
    poster = last = None
    filled = 0  # slots ending before the current picture's time, and so settled
    with av.open(str(source), metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        for other in container.streams:
            if other.index != stream.index:
                # Sound and other streams never reach Python either (demux(stream) only filters
                # them out after they were read and handed over): a third of this pass's reading.
                other.discard = av.stream.Discard.all
        if not exact:
            # The demuxer drops the other pictures' packets before they reach Python (most of the
            # cost was handing every packet over), and the decoder skips any that slip through.
            stream.discard = av.stream.Discard.nonkey
            stream.codec_context.skip_frame = "NONKEY"
            # No deblocking: it smooths block edges that a 160 px thumbnail or a poster JPEG
            # cannot show, at about a tenth of the cost of decoding a keyframe. Only keyframes
            # are decoded here, so no picture is predicted from an unfiltered one (in exact mode
            # errors would build up along each group of pictures: it keeps the filter).
            stream.codec_context.options = {"skip_loop_filter": "all"}
        start = (container.start_time or 0) / av.time_base  # times count from the start of video.mp4
        packets = container.demux(stream)
        if not exact:
            packets = _shown(packets, slots, poster_at, start)
        for packet in packets:
            if abandon is not None and abandon.is_set():
                raise Abandoned
            for frame in packet.decode():
                if frame.time is None:
                    continue
                at = frame.time - start
                # The slots before this picture show the previous one (or this, the first): each
                # picture is scaled at most once, and only if some slot shows it.
                if filled < len(slots) and slots[filled] < at:
                    earlier = small(last if last is not None else frame)
                    while filled < len(slots) and slots[filled] < at:
                        thumbnails[filled] = earlier
                        filled += 1
                if poster is None and at >= poster_at:
                    poster = large(frame)
                last = frame
    if last is None:
        raise av.error.InvalidDataError(0, "no picture can be decoded")
    if filled < len(slots):
        tail = small(last)
        for i in range(filled, len(slots)):
            thumbnails[i] = tail
    (out_dir / poster_name).write_bytes(sprite.jpeg(poster or large(last), POSTER_QUALITY))
    sprite.write(thumbnails, out_dir / sprite_name, out_dir / index_name, grid)
