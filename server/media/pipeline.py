"""The media engine: one recording in, the files the replay and the analysis need out.

`process` makes video.mp4: H.264/AAC, +faststart. Streams already in those codecs are copied,
not re-encoded. A caller that reads the file whole anyway (the media job, encrypting it into
storage) may ask for it with its index still at the end and read it through
faststart.open_relocated, which moves the index on the way (faststart.py says why).

`make_pictures` makes, from a video (the media job's pictures job passes video.mp4):
- poster.jpg: a picture from about 10% in, past the dark first frames of a webcam.
- sprite.jpg + sprite.json: a grid of 160 px thumbnails, one every `interval` seconds (at most
  about 100), for hover-scrubbing; the JSON gives each thumbnail's time and rectangle.

They are two steps, and two jobs, because a recording is playable without its pictures: on a
remux, ffmpeg only copies packets, and making the pictures beside it (on the other core of a
2-core worker) slowed that copy by a fifth and held the replay back for them. The pictures come
from the video's keyframes only (pictures.py): a few pictures instead of the whole video. The
price is that a thumbnail shows the last keyframe before its time, and the poster is the first
keyframe from 10% on; with long keyframe intervals, neighbouring thumbnails repeat
(`exact_thumbnails` buys them back with a full decode).

The analyzers' 16 kHz WAV is not made here but by the analysis job, from video.mp4 (audio.py):
decoding and resampling the sound costs several times a remux, and a recording is playable
without it.

Each step writes into a work directory and moves its files into place at the end, so a run
leaves either its whole new set or, when it fails, the previous files untouched.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from . import faststart, ffmpeg, pictures, sprite
from .probe import MediaInfo, check_complete, check_recording, probe

log = logging.getLogger("talentreel.media")

VIDEO = "video.mp4"
POSTER = "poster.jpg"
SPRITE = "sprite.jpg"
SPRITE_INDEX = "sprite.json"
PICTURE_NAMES = (POSTER, SPRITE, SPRITE_INDEX)

COPYABLE_VIDEO_CODECS = {"h264"}
COPYABLE_PIX_FMTS = {"yuv420p", "yuvj420p"}
"""8-bit 4:2:0: what every browser decodes. High 10 or 4:4:4 H.264 is re-encoded."""
COPYABLE_AUDIO_CODECS = {"aac"}

X264_PRESET = "veryfast"
"""Fast enough for a 2-core worker to transcode an interview in a fraction of its length."""
X264_CRF = 23
AAC_BITRATE = "128k"

HASH_CHUNK_BYTES = 1024 * 1024

BESIDE_STOP_SECONDS = 5.0
"""How long a failing run waits for the work beside ffmpeg to notice (it checks between pictures)."""


def _copies(info: MediaInfo) -> tuple[bool, bool | None]:
    """(copy the video?, copy the audio? or None when there is no audio)."""
    video = info.video
    copy_video = video.codec in COPYABLE_VIDEO_CODECS and (video.pix_fmt or "yuv420p") in COPYABLE_PIX_FMTS
    copy_audio = None if info.audio is None else info.audio.codec in COPYABLE_AUDIO_CODECS
    return copy_video, copy_audio


def plan(info: MediaInfo) -> str:
    """How a recording becomes video.mp4: "remux" when every stream can be copied into MP4 as it
    is (H.264 video, AAC or no audio), else "transcode". A transcode still copies whichever
    stream is already fine."""
    copy_video, copy_audio = _copies(info)
    return "remux" if copy_video and copy_audio is not False else "transcode"


def _command(source: Path, work: Path, info: MediaInfo, copy_video: bool, copy_audio: bool | None,
             ffmpeg_faststart: bool = True) -> list[str]:
    """The ffmpeg command making video.mp4.

    It has that one output. An ffmpeg with several outputs can stall for good (seen with ffmpeg 9,
    in up to one run in two on a 10-minute recording) when outputs that write steadily (video,
    audio) share it with outputs that write rarely (thumbnails, poster): its scheduler paces the
    outputs against each other.
    """
    main = ["-i", str(source), "-map", "0:v:0"]
    if copy_video:
        main += ["-c:v", "copy"]
    else:
        video_filter = "format=yuv420p"
        if info.video.width % 2 or info.video.height % 2:  # 4:2:0 needs even dimensions
            video_filter = "crop=trunc(iw/2)*2:trunc(ih/2)*2," + video_filter
        main += ["-vf", video_filter, "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF)]
    if info.audio is not None:
        main += ["-map", "0:a:0"] + (["-c:a", "copy"] if copy_audio else ["-c:a", "aac", "-b:a", AAC_BITRATE])
    if ffmpeg_faststart:
        main += ["-movflags", "+faststart"]
    main += ["-f", "mp4", str(work / VIDEO)]
    return main


def _faststart_by_ffmpeg(video: Path, timeout: float | None, cancel) -> None:
    """Have ffmpeg move video.mp4's index in front (its second pass, as +faststart does), for a
    file faststart.py does not move itself."""
    moved = video.with_name(video.name + ".faststart")
    ffmpeg.run(["-i", str(video), "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(moved)],
               timeout=timeout, cancel=cancel)
    os.replace(moved, video)


class _Beside(threading.Thread):
    """Work done in a thread while ffmpeg runs, so that its time is hidden behind ffmpeg's."""

    def __init__(self, name: str, function, *args):
        super().__init__(daemon=True, name=name)
        self.function, self.args = function, args
        self.value = self.error = None

    def run(self):
        try:
            self.value = self.function(*self.args)
        except BaseException as exc:  # handed to the caller by result()
            self.error = exc

    @property
    def failed(self) -> bool:
        return self.error is not None

    def result(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def _sha256(path: Path, abandon: threading.Event) -> str | None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while not abandon.is_set():
            chunk = fh.read(HASH_CHUNK_BYTES)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)  # hashlib releases the GIL on large chunks
    return None


class _Check:
    """How the completeness check beside ffmpeg ended, readable before its thread has ended."""

    def __init__(self):
        self.done = threading.Event()
        self.error: BaseException | None = None


def _beside_ffmpeg(source: Path, info: MediaInfo, check: bool, hash_source: bool, abandon: threading.Event,
                   checked: _Check) -> str | None:
    """What runs beside ffmpeg (see process); returns the original's SHA-256 if hash_source."""
    try:
        if check:
            check_complete(source, info)
    except BaseException as exc:
        checked.error = exc
        raise
    finally:
        checked.done.set()
    return _sha256(source, abandon) if hash_source else None


def _remove_debris(out_dir: Path) -> None:
    """Work and old directories left by a run that was killed (a `finally` never ran). Only one
    media job runs per recording at a time, so none of these belongs to a live run."""
    for pattern in (f".{out_dir.name}.partial-*", f".{out_dir.name}.old-*"):
        for path in out_dir.parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def _move_into_place(work: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(out_dir, old)
    os.rename(work, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def process(source_path, out_dir, progress: Callable[[float], None] | None = None, cancel=None,
            timeout: float | None = None, hash_source: bool = True, faststart_on_read: bool = False,
            info: MediaInfo | None = None) -> dict:
    """Turn the recording at `source_path` into video.mp4 in `out_dir`: a directory of this
    recording's own, created if missing, whose previous content is replaced as a whole.

    progress: called with a fraction 0..1 in this thread while ffmpeg works.
    cancel: a callable returning True, or an Event; checked while ffmpeg works.
    timeout: seconds the whole processing may take.
    hash_source: compute the SHA-256 of the file at `source_path` (False when the caller already
        has it: the media job's originals are hashed as they are stored; see recordings.py).
    faststart_on_read: leave video.mp4's index (moov) at its end, for the caller to read the file
        through faststart.open_relocated with the returned `relocation`, which hands it out in
        +faststart order: ffmpeg's own +faststart rereads and rewrites the whole file. The layout
        is checked here; a file faststart.py would not move is made faststart by ffmpeg after all.
    info: the file's probe when it was already validated whole (probe.validate, as ingest does
        for every original, whose bytes storage then authenticates): neither probed nor checked
        again. Without it the file is probed, and checked whole beside ffmpeg.

    Raises MediaRejected (the file is not a usable recording), FfmpegTimeout, FfmpegCancelled or
    FfmpegError. On any failure out_dir is left as it was and no partial output remains.
    Returns what was done: how ("remux" | "transcode"), per stream "copy" or the encoder, probes
    of input and output, each output file's size, the original's sha256 (None unless
    hash_source), and with faststart_on_read the `relocation` to read video.mp4 with
    (faststart.open_relocated; None when ffmpeg put the index first).
    """
    started = time.monotonic()
    source, out_dir = Path(source_path), Path(out_dir)
    check = info is None
    if check:
        info = probe(source)
    check_recording(info)
    copy_video, copy_audio = _copies(info)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_debris(out_dir)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    abandon = threading.Event()

    def remaining() -> float | None:  # of the whole processing's timeout, for each ffmpeg run
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - started))

    # Beside ffmpeg, in one thread and in this order: check that the file is whole (unless it was
    # validated before; for an FLV without index, a pass over all its packets; a damaged file
    # stops ffmpeg through the cancel check), hash the original (unless the caller has its hash).
    # One thread, not two: ffmpeg keeps a core of its own on a 2-core worker.
    checked = _Check()
    beside = None
    if check or hash_source:
        beside = _Beside("media-beside", _beside_ffmpeg, source, info, check, hash_source, abandon, checked)
        beside.start()
    else:
        checked.done.set()
    try:
        main = _command(source, work, info, copy_video, copy_audio, ffmpeg_faststart=not faststart_on_read)
        stop = lambda: (beside is not None and beside.failed) or ffmpeg.is_cancelled(cancel)  # noqa: E731
        try:
            ffmpeg.run(main, duration=info.duration, progress=progress, timeout=remaining(), cancel=stop)
        except ffmpeg.FfmpegError:
            checked.done.wait()  # the check may yet find the damage
            if checked.error is not None:  # the damage is the reason ffmpeg failed or was stopped
                raise checked.error from None
            if beside is not None and beside.failed:
                raise beside.error from None
            raise
        digest = beside.result() if beside is not None else None
        if not (work / VIDEO).is_file() or (work / VIDEO).stat().st_size == 0:
            raise ffmpeg.FfmpegError(f"ffmpeg exited normally but did not write {VIDEO}")
        relocation = None
        if faststart_on_read:
            try:
                relocation = faststart.relocation(work / VIDEO)
            except faststart.Unusual as exc:
                log.warning("%s: %s; ffmpeg makes it faststart instead", VIDEO, exc)
                _faststart_by_ffmpeg(work / VIDEO, remaining(), stop)
        output = probe(work / VIDEO)
        files = {path.name: path.stat().st_size for path in sorted(work.iterdir())}
        _move_into_place(work, out_dir)
    except BaseException:
        abandon.set()
        if beside is not None:
            beside.join(timeout=BESIDE_STOP_SECONDS)  # it reads the source: let it stop first
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {
        "how": plan(info),
        "video": "copy" if copy_video else "libx264",
        "audio": None if copy_audio is None else ("copy" if copy_audio else "aac"),
        "input": info.as_dict(),
        "output": output.as_dict(),
        "files": files,
        "sha256": digest,
        "relocation": relocation,
        "seconds": round(time.monotonic() - started, 3),
    }


def make_pictures(video_path, out_dir, duration: float | None = None, exact_thumbnails: bool = False,
                  abandon: threading.Event | None = None) -> dict:
    """Make poster.jpg, sprite.jpg and sprite.json from the video at `video_path` into `out_dir`
    (created if missing; other files in it are left alone, these three replaced).

    duration: the video's length in seconds, which places the poster and the thumbnail slots
        (probed when not given).
    exact_thumbnails: decode every picture, so that each thumbnail and the poster show their own
        moment rather than a keyframe near it; costs a full decode (several times a remux).
    abandon: an Event; set, the pictures stop between two pictures (pictures.Abandoned).

    Raises av.error.FFmpegError (InvalidDataError: no picture can be decoded) when the video has
    no picture to show; on any failure the previous pictures in out_dir stay as they were.
    Returns each picture file's size and the seconds taken.
    """
    started = time.monotonic()
    video, out_dir = Path(video_path), Path(out_dir)
    if duration is None:
        duration = probe(video).duration
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".pictures.partial-", dir=out_dir))
    try:
        pictures.make(video, work, duration, sprite.layout(duration), POSTER, SPRITE, SPRITE_INDEX, exact_thumbnails, abandon)
        files = {name: (work / name).stat().st_size for name in PICTURE_NAMES}
        for name in PICTURE_NAMES:
            os.replace(work / name, out_dir / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"files": files, "seconds": round(time.monotonic() - started, 3)}
