"""The media pipeline: remux or transcode; poster and sprite (made from the replay's video, as
the pictures job does); the analyzers' WAV (made from it too); idempotent and clean on failure."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import wave

import av
import psutil
import pytest

from conftest import FIXTURES
from talentreel.server.media import ffmpeg
from talentreel.server.media.audio import extract_wav
from talentreel.server.media.pipeline import make_pictures, plan, process
from talentreel.server.media.probe import AudioInfo, MediaInfo, MediaRejected, VideoInfo, probe
from talentreel.server.media.sprite import layout

INTERVIEW = FIXTURES / "interview_en"
TRUTH = json.loads((INTERVIEW / "truth.json").read_text())
OUTPUTS = {"video.mp4", "poster.jpg", "sprite.jpg", "sprite.json"}


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Each fixture processed once for the module: name -> (result, output directory)."""
    done = {}

    def get(name):
        if name not in done:
            out = tmp_path_factory.mktemp("media") / "out"
            result = process(INTERVIEW / name, out)
            result["pictures"] = make_pictures(out / "video.mp4", out, result["output"]["duration"])
            done[name] = (result, out)
        return done[name]

    return get


def video_packets(path):
    """(count, sha256 of the payloads) of the first video stream's packets."""
    digest, count = hashlib.sha256(), 0
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                digest.update(bytes(packet))
                count += 1
    return count, digest.hexdigest()


def top_level_boxes(path):
    boxes, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        boxes.append(kind.decode())
        if size == 0:
            break
        offset += size
    return boxes


def decode_all(path):
    """Decode every packet of every stream; returns {kind: frames} and fails on any decode error."""
    frames = {"video": 0, "audio": 0}
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams.video, *container.streams.audio):
            frames[frame.__class__.__name__.replace("Frame", "").lower()] += 1
    return frames


def ffmpeg_children():
    return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


@pytest.mark.parametrize("name", ["interview.mp4", "legacy_h264.flv"])
def test_h264_aac_is_remuxed_not_reencoded(processed, name):
    result, out = processed(name)
    assert (result["how"], result["video"], result["audio"]) == ("remux", "copy", "copy")
    assert result["output"]["video"]["codec"] == result["input"]["video"]["codec"] == "h264"
    # The very same compressed pictures, byte for byte.
    assert video_packets(out / "video.mp4") == video_packets(INTERVIEW / name)
    assert result["output"]["video"]["bit_rate"] == pytest.approx(result["input"]["video"]["bit_rate"] or 6516, rel=0.1)
    assert result["output"]["duration"] == pytest.approx(result["input"]["duration"], abs=0.2)


def test_sorenson_is_transcoded_to_h264_aac(processed):
    result, out = processed("legacy_sorenson.flv")
    assert (result["how"], result["video"], result["audio"]) == ("transcode", "libx264", "aac")
    assert result["input"]["video"]["codec"] == "flv1" and result["input"]["audio"]["codec"] == "mp3"
    output = result["output"]
    assert (output["video"]["codec"], output["video"]["pix_fmt"], output["audio"]["codec"]) == ("h264", "yuv420p", "aac")
    assert (output["video"]["width"], output["video"]["height"]) == (480, 360)
    assert output["duration"] == pytest.approx(TRUTH["duration"], abs=0.2)


@pytest.mark.parametrize("name", ["interview.mp4", "legacy_h264.flv", "legacy_sorenson.flv"])
def test_outputs_are_complete_and_play(processed, name):
    result, out = processed(name)
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert set(result["files"]) == {"video.mp4"}
    assert {**result["files"], **result["pictures"]["files"]} == {p.name: p.stat().st_size for p in out.iterdir()}
    assert result["sha256"] == hashlib.sha256((INTERVIEW / name).read_bytes()).hexdigest()

    boxes = top_level_boxes(out / "video.mp4")
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"

    frames = decode_all(out / "video.mp4")
    assert frames["video"] == pytest.approx(TRUTH["duration"] * TRUTH["fps"], abs=3)
    assert frames["audio"] > 0

    with av.open(str(out / "poster.jpg")) as poster:
        assert poster.streams.video[0].codec_context.width == 480


@pytest.mark.parametrize("name", ["interview.mp4", "legacy_h264.flv", "legacy_sorenson.flv"])
def test_wav_is_16k_mono_for_the_whole_recording(processed, name, tmp_path):
    _, out = processed(name)
    assert extract_wav(out / "video.mp4", tmp_path / "audio.wav") == tmp_path / "audio.wav"
    with wave.open(str(tmp_path / "audio.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.getnframes() / 16000 == pytest.approx(TRUTH["duration"], abs=0.1)


@pytest.mark.parametrize("name", ["interview.mp4", "legacy_sorenson.flv"])
def test_sprite_index_matches_the_image(processed, name):
    result, out = processed(name)
    index = json.loads((out / "sprite.json").read_text())
    with av.open(str(out / "sprite.jpg")) as sprite:
        context = sprite.streams.video[0].codec_context
        assert (index["width"], index["height"]) == (context.width, context.height)
    tiles = index["thumbnails"]
    assert 0 < len(tiles) <= 100
    assert [t["time"] for t in tiles] == [i * index["interval"] for i in range(len(tiles))]
    assert tiles[-1]["time"] <= result["input"]["duration"] < tiles[-1]["time"] + 2 * index["interval"]
    for tile in tiles:
        assert tile["w"] == 160 and tile["h"] == 120  # 4:3 source
        assert 0 <= tile["x"] and tile["x"] + tile["w"] <= index["width"]
        assert 0 <= tile["y"] and tile["y"] + tile["h"] <= index["height"]
    assert len({(t["x"], t["y"]) for t in tiles}) == len(tiles)


def test_sprite_layout_caps_the_thumbnail_count():
    assert layout(69.8) == {"interval": 1, "count": 70, "columns": 10, "rows": 7}
    four_hours = layout(4 * 3600)
    assert four_hours["count"] <= 100 and four_hours["interval"] == 144
    assert layout(0.4) == {"interval": 1, "count": 1, "columns": 1, "rows": 1}


def _info(video_codec="h264", pix_fmt="yuv420p", audio_codec="aac"):
    audio = None if audio_codec is None else AudioInfo(audio_codec, 48000, 2, 128000)
    return MediaInfo("matroska,webm", 60.0, 1000, 1000, VideoInfo(video_codec, "High", pix_fmt, 640, 480, 30.0, None), audio)


@pytest.mark.parametrize("kwargs, how", [
    ({}, "remux"),
    ({"audio_codec": None}, "remux"),
    ({"pix_fmt": "yuvj420p"}, "remux"),
    ({"audio_codec": "opus"}, "transcode"),
    ({"video_codec": "vp8", "audio_codec": "vorbis"}, "transcode"),
    ({"video_codec": "flv1", "audio_codec": "mp3"}, "transcode"),
    ({"pix_fmt": "yuv444p"}, "transcode"),
    ({"pix_fmt": "yuv420p10le"}, "transcode"),
])
def test_plan(kwargs, how):
    assert plan(_info(**kwargs)) == how


def test_video_without_sound_is_remuxed_and_has_no_wav(tmp_path):
    silent = tmp_path / "silent.mov"
    ffmpeg.run(["-i", str(INTERVIEW / "interview.mp4"), "-an", "-c", "copy", str(silent)])
    result = process(silent, tmp_path / "out")
    assert (result["how"], result["audio"]) == ("remux", None)
    make_pictures(tmp_path / "out" / "video.mp4", tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS
    assert result["output"]["audio"] is None
    assert extract_wav(tmp_path / "out" / "video.mp4", tmp_path / "audio.wav") is None


def test_odd_sized_silent_video_is_transcoded(tmp_path):
    """MPEG-4 Part 2 at 321x241: H.264 in 4:2:0 needs even dimensions, and there is no sound."""
    odd = tmp_path / "odd.avi"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc=s=321x241:r=25:d=3", "-c:v", "mpeg4", str(odd)])
    result = process(odd, tmp_path / "out")
    assert (result["how"], result["video"], result["audio"]) == ("transcode", "libx264", None)
    video = result["output"]["video"]
    assert (video["codec"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 320, 240)
    make_pictures(tmp_path / "out" / "video.mp4", tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS


def test_wav_follows_the_replay_timeline_when_sound_starts_late(tmp_path):
    """Sound starting 3 s after the picture: the WAV starts with 3 s of silence, so a time in the
    analysis is the same time in the replay."""
    late = tmp_path / "late.mkv"
    ffmpeg.run(["-i", str(INTERVIEW / "interview.mp4"), "-itsoffset", "3", "-i", str(INTERVIEW / "interview.mp4"),
                "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)])
    process(late, tmp_path / "out")
    extract_wav(tmp_path / "out" / "video.mp4", tmp_path / "audio.wav")
    with wave.open(str(tmp_path / "audio.wav")) as wav:
        assert wav.getnframes() / 16000 == pytest.approx(3 + TRUTH["duration"], abs=0.1)
        head = wav.readframes(16000 * 2)
    assert head == bytes(len(head))


def test_only_the_stream_that_needs_it_is_reencoded(tmp_path):
    """H.264 with MP3 sound: the pictures are copied, only the sound becomes AAC."""
    mixed = tmp_path / "mixed.mkv"
    ffmpeg.run(["-i", str(INTERVIEW / "interview.mp4"), "-c:v", "copy", "-c:a", "libmp3lame", "-b:a", "32k", str(mixed)])
    result = process(mixed, tmp_path / "out")
    assert (result["how"], result["video"], result["audio"]) == ("transcode", "copy", "aac")
    assert video_packets(tmp_path / "out" / "video.mp4") == video_packets(INTERVIEW / "interview.mp4")
    assert result["output"]["audio"]["codec"] == "aac"


def test_a_long_recording_does_not_stall(tmp_path):
    """Ten minutes of the interview, remuxed. With the WAV (then made by this job) and the
    keyframe thumbnails in the same ffmpeg as the copy, ffmpeg 9 stalled for good on this nearly
    every time; now each output has an ffmpeg of its own."""
    playlist = tmp_path / "playlist.txt"
    playlist.write_text(f"file '{INTERVIEW / 'legacy_h264.flv'}'\n" * 9)
    long = tmp_path / "long.flv"
    ffmpeg.run(["-f", "concat", "-safe", "0", "-i", str(playlist), "-c", "copy", str(long)])
    result = process(long, tmp_path / "out", timeout=60)
    assert result["how"] == "remux"
    assert result["output"]["duration"] == pytest.approx(9 * 69.9, abs=2)
    extract_wav(tmp_path / "out" / "video.mp4", tmp_path / "audio.wav", timeout=60)
    with wave.open(str(tmp_path / "audio.wav")) as wav:
        assert wav.getnframes() / 16000 == pytest.approx(result["output"]["duration"], abs=0.5)


def test_running_twice_leaves_one_set(tmp_path):
    out = tmp_path / "recordings" / "42"
    first = process(INTERVIEW / "interview.mp4", out)
    first_pictures = make_pictures(out / "video.mp4", out)
    second = process(INTERVIEW / "interview.mp4", out)
    assert [p.name for p in out.iterdir()] == ["video.mp4"]  # the engine's run replaces the directory
    second_pictures = make_pictures(out / "video.mp4", out)
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert [p.name for p in out.parent.iterdir()] == ["42"]
    assert first["files"] == second["files"] and first_pictures["files"] == second_pictures["files"]


def test_a_validated_probe_is_neither_probed_nor_checked_again(tmp_path, monkeypatch):
    """What ingest validated (probe.validate) is trusted: the media job passes it as `info`."""
    from talentreel.server.media import pipeline

    info = probe(INTERVIEW / "legacy_h264.flv")
    calls = []
    monkeypatch.setattr(pipeline, "check_complete", lambda *args: calls.append("check"))
    real_probe = pipeline.probe
    monkeypatch.setattr(pipeline, "probe", lambda path: calls.append(path.name) or real_probe(path))
    result = process(INTERVIEW / "legacy_h264.flv", tmp_path / "out", info=info, hash_source=False)
    assert result["how"] == "remux" and result["input"] == info.as_dict()
    assert calls == ["video.mp4"]  # only the output is probed
    assert result["sha256"] is None


def test_pictures_that_fail_leave_the_previous_ones(processed, tmp_path):
    import shutil

    _, done = processed("interview.mp4")
    out = tmp_path / "out"
    shutil.copytree(done, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(Exception):
        make_pictures(INTERVIEW / "not_a_video.mp4", out, duration=60.0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("name, reason", [("not_a_video.mp4", "not_media"), ("truncated.mp4", "truncated")])
def test_bad_input_is_refused_and_leaves_nothing(tmp_path, name, reason):
    with pytest.raises(MediaRejected) as caught:
        process(INTERVIEW / name, tmp_path / "out")
    assert caught.value.reason == reason
    assert list(tmp_path.iterdir()) == []


def test_timeout_kills_ffmpeg_and_leaves_the_previous_set(tmp_path):
    out = tmp_path / "out"
    process(INTERVIEW / "interview.mp4", out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(ffmpeg.FfmpegTimeout):
        process(INTERVIEW / "legacy_sorenson.flv", out, timeout=0.3)
    assert ffmpeg_children() == []
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_cancel_kills_ffmpeg_and_leaves_nothing(tmp_path):
    cancel = threading.Event()
    seen = []

    def progress(fraction):
        seen.append(fraction)
        cancel.set()  # as a reviewer pressing "cancel" once the job shows progress

    with pytest.raises(ffmpeg.FfmpegCancelled):
        process(INTERVIEW / "legacy_sorenson.flv", tmp_path / "out", progress=progress, cancel=cancel)
    assert seen and seen[-1] < 1.0
    assert ffmpeg_children() == []
    assert list(tmp_path.iterdir()) == []


def test_progress_rises_to_one(processed, tmp_path):
    seen = []
    process(INTERVIEW / "legacy_sorenson.flv", tmp_path / "out", progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 2


def test_exact_thumbnails_show_every_moment(processed, tmp_path):
    """With keyframes only, interview.mp4 (keyframes at 0, 16.7, 33.3, 41, 57.7 s) cannot show the
    candidate looking away at 36-41 s; decoding every picture can."""
    keyframes_result, keyframes_out = processed("interview.mp4")
    exact = make_pictures(keyframes_out / "video.mp4", tmp_path / "out", exact_thumbnails=True)
    assert set(exact["files"]) == {"poster.jpg", "sprite.jpg", "sprite.json"}
    assert (tmp_path / "out" / "sprite.jpg").read_bytes() != (keyframes_out / "sprite.jpg").read_bytes()


def test_pictures_of_a_recording_with_one_keyframe_held_by_the_decoder(tmp_path):
    """I5001.flv (legacy export sample) has a single keyframe, which the H.264 decoder gives back
    only when flushed at the end of the file: the flush must reach it, or there is no picture."""
    from talentreel.server.media import pictures

    source = FIXTURES.parent / "legacy-export" / "sample" / "videos" / "I5001.flv"
    info = probe(source)
    grid = layout(info.duration)
    pictures.make(source, tmp_path, info.duration, grid, "poster.jpg", "sprite.jpg", "sprite.json")
    with av.open(str(tmp_path / "poster.jpg")) as poster:
        assert poster.streams.video[0].codec_context.width == info.video.width
    index = json.loads((tmp_path / "sprite.json").read_text())
    assert len(index["thumbnails"]) == grid["count"]


def test_pictures_stop_when_the_job_gives_up(tmp_path):
    import threading

    from talentreel.server.media import pictures

    abandon = threading.Event()
    abandon.set()
    with pytest.raises(pictures.Abandoned):
        pictures.make(INTERVIEW / "interview.mp4", tmp_path, TRUTH["duration"], layout(TRUTH["duration"]),
                      "poster.jpg", "sprite.jpg", "sprite.json", abandon=abandon)
    assert list(tmp_path.iterdir()) == []


def test_each_thumbnail_shows_the_picture_of_its_time(tmp_path):
    """Red for 5 s, then blue for 5 s, a keyframe at each start: the sprite's first five
    thumbnails are red and the next five blue (keyframes only, rounded to the nearest slot)."""
    from talentreel.server.media import pictures

    source = tmp_path / "red-blue.mp4"
    ffmpeg.run(["-f", "lavfi", "-i", "color=c=red:s=320x240:r=10:d=5", "-f", "lavfi", "-i", "color=c=blue:s=320x240:r=10:d=5",
                "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-g", "50",
                "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(source)])
    grid = layout(10.0)
    pictures.make(source, tmp_path, 10.0, grid, "poster.jpg", "sprite.jpg", "sprite.json")
    index = json.loads((tmp_path / "sprite.json").read_text())
    with av.open(str(tmp_path / "sprite.jpg")) as image:
        rgb = next(image.decode(video=0)).to_ndarray(format="rgb24")
    colours = []
    for tile in index["thumbnails"]:
        r, g, b = rgb[tile["y"] + tile["h"] // 2, tile["x"] + tile["w"] // 2]
        colours.append("red" if r > 200 and b < 60 else "blue" if b > 200 and r < 60 else f"{r},{g},{b}")
    assert colours == ["red"] * 5 + ["blue"] * 5
    with av.open(str(tmp_path / "poster.jpg")) as image:  # the first keyframe from 10 % (1 s) on: 5 s
        r, g, b = next(image.decode(video=0)).to_ndarray(format="rgb24")[120, 160]
    assert b > 200 and r < 60


def test_only_the_keyframes_shown_are_decoded_and_the_pictures_are_the_same(tmp_path, monkeypatch):
    """A keyframe every 0.4 s for 60 s (150 keyframes) and a thumbnail every second (60 slots):
    poster and sprite are byte for byte those made by decoding every keyframe, from at most one
    decoded keyframe per slot plus the first, the poster's and the last."""
    from talentreel.server.media import pictures

    source = tmp_path / "short-gop.mp4"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=60", "-c:v", "libx264", "-g", "4", "-sc_threshold", "0",
                "-pix_fmt", "yuv420p", str(source)])
    grid = layout(60.0)
    decoded = []
    real_shown = pictures._shown

    def counted(*args):
        for packet in real_shown(*args):
            decoded.append(packet.is_keyframe)
            yield packet

    (tmp_path / "shown").mkdir()
    monkeypatch.setattr(pictures, "_shown", counted)
    pictures.make(source, tmp_path / "shown", 60.0, grid, "poster.jpg", "sprite.jpg", "sprite.json")
    (tmp_path / "all").mkdir()
    monkeypatch.setattr(pictures, "_shown", lambda packets, *args: packets)
    pictures.make(source, tmp_path / "all", 60.0, grid, "poster.jpg", "sprite.jpg", "sprite.json")

    for name in ("poster.jpg", "sprite.jpg", "sprite.json"):
        assert (tmp_path / "shown" / name).read_bytes() == (tmp_path / "all" / name).read_bytes(), name
    assert sum(decoded) <= grid["count"] + 3 < 150
