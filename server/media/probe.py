"""What a recording holds, read with PyAV from its content (never from its name), and whether it
is acceptable.

A refusal is a MediaRejected: `reason` is a stable code for programs and tests, `str(exc)` a
sentence for people, translated when shown inside a request (lazy_gettext), plain English otherwise.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import av

from ..errors import ValidationError
from ..i18n import lazy_gettext

TAIL_SECONDS = 10.0
"""How far before the declared end the completeness check starts reading packets."""

END_TOLERANCE_SECONDS = 2.0
"""How far short of the declared duration the streams may end before the file counts as cut off:
containers round their durations and audio often ends a frame or two before video."""

DECODE_CHECK_PACKETS = 64
"""Video packets fed to the decoder at each end of the file; one picture must come out."""

# Formats ffmpeg opens that are not recordings: a text file can pass for ANSI art ("tty"), and a
# photo for a one-frame video.
NOT_RECORDING_FORMATS = {"tty", "image2", "txt"}
STILL_IMAGE_CODECS = {"ansi", "png", "mjpeg", "bmp", "tiff", "webp", "gif", "jpeg2000", "jpegls", "qoi", "sgi", "pcx"}


class MediaRejected(ValidationError):
    """A recording was refused; `reason` says why in one word, the message in a sentence."""

    def __init__(self, reason: str, message, field: str = "file"):
        super().__init__(message, field=field)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    profile: str | None
    pix_fmt: str | None
    width: int
    height: int
    fps: float | None
    bit_rate: int | None


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    bit_rate: int | None


@dataclass(frozen=True)
class MediaInfo:
    format: str
    duration: float
    size_bytes: int
    bit_rate: int | None
    video: VideoInfo | None
    audio: AudioInfo | None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MediaInfo":
        """The probe as_dict() gave, back; raises TypeError or KeyError when `data` is not one
        (e.g. written by a version whose probe had other fields)."""
        video, audio = data["video"], data["audio"]
        return cls(**{**data, "video": None if video is None else VideoInfo(**video),
                      "audio": None if audio is None else AudioInfo(**audio)})


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _not_media() -> MediaRejected:
    return MediaRejected("not_media", lazy_gettext("The file is not a video recording: its content is not in any audio or video format we can read."))


def _truncated(detail) -> MediaRejected:
    return MediaRejected("truncated", lazy_gettext("The recording is incomplete or damaged (%(detail)s). Upload the whole file again.", detail=detail))


def _open(path):
    size = os.path.getsize(path)
    if size == 0:
        raise MediaRejected("empty", lazy_gettext("The file is empty."))
    try:
        return av.open(str(path), metadata_errors="ignore"), size
    except av.error.FFmpegError:
        raise _not_media() from None


def _codec_name(stream) -> str:
    # canonical_name is the format's name ("mp3"), where name may be a decoder's ("mp3float").
    return stream.codec_context.codec.canonical_name


def _packet_end(packet) -> float | None:
    if packet.pts is None:
        return None
    return float((packet.pts + (packet.duration or 0)) * packet.time_base)


def _data_span(container) -> float:
    """Seconds from the first packet to the end of the last one, reading every packet (no decoding)."""
    first, last = math.inf, 0.0
    for packet in container.demux():
        packet_end = _packet_end(packet)
        if packet_end is not None:
            first = min(first, float(packet.pts * packet.time_base))
            last = max(last, packet_end)
    return 0.0 if first is math.inf else last - first


def probe(path) -> MediaInfo:
    """Read what the file holds. Raises MediaRejected if it is empty or not audio/video at all."""
    container, size = _open(path)
    with container:
        return _describe(path, container, size)


def _describe(path, container, size) -> MediaInfo:
    if container.format.name in NOT_RECORDING_FORMATS:
        raise _not_media()
    video = audio = None
    if container.streams.video:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        video = VideoInfo(
            codec=_codec_name(stream),
            profile=context.profile,
            pix_fmt=context.pix_fmt,
            width=context.width,
            height=context.height,
            fps=round(float(rate), 3) if rate else None,
            bit_rate=context.bit_rate or None,
        )
    if container.streams.audio:
        stream = container.streams.audio[0]
        context = stream.codec_context
        audio = AudioInfo(
            codec=_codec_name(stream),
            sample_rate=context.sample_rate,
            channels=context.layout.nb_channels,
            bit_rate=context.bit_rate or None,
        )
    if container.duration:
        duration = container.duration / av.time_base
    else:
        # A browser's MediaRecorder writes WebM without a duration; measure it from the packets
        # in a container of its own, since not every format can seek back to the start.
        with av.open(str(path), metadata_errors="ignore") as scan:
            duration = _data_span(scan)
    return MediaInfo(format=container.format.name, duration=round(duration, 3), size_bytes=size,
                     bit_rate=container.bit_rate or None, video=video, audio=audio)


def validate(path, max_bytes: int | None = None, max_duration: float | None = None) -> MediaInfo:
    """Accept a recording or raise MediaRejected saying why not; returns its probe.

    Cheapest first: the size limit (before the file is even opened), what the content is
    (probe), whether it is a usable recording within the limits (check_recording), and whether
    it is whole (check_complete).
    """
    size = os.path.getsize(path)
    if max_bytes is not None and size > max_bytes:
        raise _too_large(size, max_bytes)
    info = probe(path)
    check_recording(info, max_bytes, max_duration)
    check_complete(path, info)
    return info


def _too_large(size, limit) -> MediaRejected:
    return MediaRejected("too_large", lazy_gettext("The file is %(size)s; the largest recording accepted is %(limit)s.",
                                                   size=human_bytes(size), limit=human_bytes(limit)))


def check_recording(info: MediaInfo, max_bytes: int | None = None, max_duration: float | None = None) -> None:
    """Refuse, from the probe alone, what is no video recording or exceeds the limits."""
    if max_bytes is not None and info.size_bytes > max_bytes:
        raise _too_large(info.size_bytes, max_bytes)
    if info.video is None:
        raise MediaRejected("no_video", lazy_gettext("The file holds no video, only sound or other data. Upload a video recording."))
    if info.video.codec in STILL_IMAGE_CODECS and info.duration < 1.0:
        raise _not_media()
    if not info.video.width or not info.video.height:
        raise _truncated(lazy_gettext("the video has no picture size"))
    if max_duration is not None and info.duration > max_duration:
        raise MediaRejected("too_long", lazy_gettext("The recording lasts %(duration)s; the longest accepted is %(limit)s.",
                                                     duration=human_duration(info.duration), limit=human_duration(max_duration)))


def check_complete(path, info: MediaInfo) -> None:
    """Refuse a file cut off or damaged after its header.

    A cut-off MP4 keeps a header promising the full duration (truncated.mp4 declares 69.8 s but
    its packets stop at 18.9 s) and PyAV reports no error: demuxing simply ends early. So a
    picture must decode at the start, the packets near the declared end must reach it, and a
    picture must decode there too. Only packets are read in between, nothing is decoded.
    """
    with av.open(str(path), metadata_errors="ignore") as container:
        video = container.streams.video[0]
        head = []
        for packet in container.demux(video):
            head.append(packet)
            if len(head) >= DECODE_CHECK_PACKETS:
                break
        if not _decodes(video, head):
            raise _truncated(lazy_gettext("no picture can be decoded at its start"))
        video.codec_context.flush_buffers()

        start = (container.start_time or 0) / av.time_base
        # A container without an index (an FLV as Flash recorded it) seeks by reading on to the
        # target. The demuxer still walks every packet's header, and stops where the data stops,
        # but skips the bodies of those it was told to discard instead of handing them over:
        # the same seek at a quarter of the cost (50 ms -> 12 ms on a 58 MB webcam recording).
        discarded = [(stream, stream.discard) for stream in container.streams]
        for stream in container.streams:
            stream.discard = av.stream.Discard.nonkey if stream.index == video.index else av.stream.Discard.all
        try:
            container.seek(int((start + max(0.0, info.duration - TAIL_SECONDS)) * av.time_base), backward=True, any_frame=False)
        except av.error.FFmpegError:
            pass  # not seekable: reading on from here still finds the end, only slower
        finally:
            for stream, discard in discarded:
                stream.discard = discard  # every stream's packets count towards where the data ends
        end = start
        tail = []
        try:
            for packet in container.demux():
                packet_end = _packet_end(packet)
                if packet_end is not None:
                    end = max(end, packet_end)
                if packet.stream.index == video.index and len(tail) < DECODE_CHECK_PACKETS:
                    tail.append(packet)
        except av.error.FFmpegError as exc:
            raise _truncated(lazy_gettext("reading it fails after %(time)s", time=human_duration(end - start))) from exc
        if end - start >= info.duration - END_TOLERANCE_SECONDS:
            if not _decodes(video, tail):
                raise _truncated(lazy_gettext("no picture can be decoded near its end"))
            return
    # Only a refused file pays for reading all of it, to say where its data really ends.
    with av.open(str(path), metadata_errors="ignore") as container:
        actual = _data_span(container)
    raise _truncated(lazy_gettext("it should last %(declared)s but its data ends at %(actual)s",
                                  declared=human_duration(info.duration), actual=human_duration(actual)))


def _decodes(video, packets) -> bool:
    """Whether the packets yield at least one picture (a decoder may hold a few back first)."""
    context = video.codec_context
    try:
        for packet in packets:
            if context.decode(packet):
                return True
        return bool(context.decode(None))
    except av.error.FFmpegError:
        return False
