"""Probing and validating recordings by their content."""

from __future__ import annotations

import shutil

import av
import pytest
from flask_babel.speaklater import LazyString

from conftest import FIXTURES
from talentreel.server.errors import ValidationError
from talentreel.server.media import ffmpeg
from talentreel.server.media.probe import MediaRejected, probe, validate

INTERVIEW = FIXTURES / "interview_en"


def rejection(path, **limits) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        validate(path, **limits)
    error = caught.value
    assert isinstance(error, ValidationError)
    assert isinstance(error.message, LazyString), "the message must be translatable"
    assert str(error) and str(error) == str(error.message)
    return error


@pytest.mark.parametrize("name, container, video, audio", [
    ("interview.mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac"),
    ("legacy_h264.flv", "flv", "h264", "aac"),
    ("legacy_sorenson.flv", "flv", "flv1", "mp3"),
])
def test_probe_reads_the_fixtures(name, container, video, audio):
    info = validate(INTERVIEW / name)
    assert info.format == container
    assert info.duration == pytest.approx(69.8, abs=0.2)
    assert (info.video.codec, info.video.width, info.video.height, info.video.fps) == (video, 480, 360, 15.0)
    assert info.audio.codec == audio and info.audio.channels == 1 and info.audio.sample_rate in (16000, 22050)
    assert info.bit_rate > 0 and info.size_bytes == (INTERVIEW / name).stat().st_size
    assert info.as_dict()["video"]["codec"] == video


def test_not_a_video_is_refused():
    error = rejection(INTERVIEW / "not_a_video.mp4")
    assert error.reason == "not_media"
    assert "not a video" in str(error)


def test_text_file_named_mp4_is_refused(tmp_path):
    fake = tmp_path / "interview.mp4"
    fake.write_text("Dear hiring team,\nplease find my CV attached.\n" * 20)
    assert rejection(fake).reason == "not_media"


def test_photo_named_mp4_is_refused(tmp_path):
    photo = tmp_path / "photo.mp4"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc=s=320x240", "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", str(photo)])
    assert rejection(photo).reason == "not_media"


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    error = rejection(empty)
    assert error.reason == "empty" and "empty" in str(error)


def test_truncated_mp4_is_refused():
    """truncated.mp4 keeps a header promising 69.8 s; its data stops at about 19 s."""
    error = rejection(INTERVIEW / "truncated.mp4")
    assert error.reason == "truncated"
    assert "0:01:10" in str(error) and "0:00:19" in str(error)


@pytest.mark.parametrize("name, keep", [("legacy_h264.flv", 0.6), ("legacy_sorenson.flv", 0.3)])
def test_truncated_flv_is_refused(tmp_path, name, keep):
    data = (INTERVIEW / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: int(len(data) * keep)])
    assert rejection(cut).reason == "truncated"


def test_audio_only_is_refused(tmp_path):
    sound = tmp_path / "answer.mp4"
    ffmpeg.run(["-i", str(INTERVIEW / "interview.mp4"), "-vn", "-c", "copy", str(sound)])
    assert rejection(sound).reason == "no_video"


def test_size_limit():
    size = (INTERVIEW / "interview.mp4").stat().st_size
    error = rejection(INTERVIEW / "interview.mp4", max_bytes=size - 1)
    assert error.reason == "too_large" and "KB" in str(error)
    assert validate(INTERVIEW / "interview.mp4", max_bytes=size).video is not None


def test_duration_limit():
    error = rejection(INTERVIEW / "interview.mp4", max_duration=60)
    assert error.reason == "too_long"
    assert "0:01:10" in str(error) and "0:01:00" in str(error)
    assert validate(INTERVIEW / "interview.mp4", max_duration=70).duration < 70


def test_duration_measured_when_the_container_declares_none(tmp_path):
    """A browser's MediaRecorder writes WebM without a duration in its header."""
    live = tmp_path / "recorded.webm"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc=s=96x64:r=10:d=3", "-f", "lavfi", "-i", "sine=d=3",
                "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus",
                "-f", "webm", "-live", "1", str(live)])
    with av.open(str(live)) as container:
        assert container.duration is None
    info = validate(live)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.video.codec == "vp8" and info.audio.codec == "opus"


def test_name_is_not_trusted(tmp_path):
    renamed = tmp_path / "recording.txt"
    shutil.copy(INTERVIEW / "legacy_h264.flv", renamed)
    assert probe(renamed).format == "flv"
