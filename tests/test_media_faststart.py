"""Moving an MP4's index in front while it is read (server/media/faststart.py), against ffmpeg's
own +faststart; and the media engine's use of it, with ffmpeg's second pass as the fallback."""

from __future__ import annotations

import struct
import subprocess

import av
import pytest

from conftest import FIXTURES
from talentreel.server.media import faststart, pipeline
from talentreel.server.media.faststart import Unusual, open_faststart, relocation
from talentreel.server.media.ffmpeg import ffmpeg_executable

INTERVIEW = FIXTURES / "interview_en"
TWO_TRACKS = ["-map", "0:v:0", "-map", "0:a:0"]
FOUR_TRACKS = ["-map", "0:v:0", "-map", "0:a:0", "-map", "0:a:0", "-map", "0:v:0"]


def ffmpeg_mp4(source, target, maps, fast: bool):
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *maps, "-c", "copy"]
    command += ["-movflags", "+faststart"] if fast else []
    subprocess.run(command + ["-f", "mp4", str(target)], check=True)
    return target


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int, int]]:
    """(type, offset, header size, size) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    found, offset = [], start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        found.append((kind.decode("latin-1"), offset, header, size or end - offset))
        offset += size or end - offset
    return found


def chunk_offsets(data: bytes) -> list[int]:
    """Every chunk offset of every track, in file order of the tables."""
    offsets = []

    def walk(start, end):
        for kind, offset, header, size in boxes(data, start, end):
            if kind in ("moov", "trak", "mdia", "minf", "stbl"):
                walk(offset + header, offset + size)
            elif kind in ("stco", "co64"):
                (count,) = struct.unpack_from(">I", data, offset + header + 4)
                offsets.extend(struct.unpack_from(f">{count}{'I' if kind == 'stco' else 'Q'}", data, offset + header + 8))

    walk(0, len(data))
    return offsets


def video_packets(path) -> list[tuple]:
    """Every packet of every stream: (stream, pts, dts, keyframe, payload)."""
    with av.open(str(path)) as container:
        return [(p.stream.index, p.pts, p.dts, p.is_keyframe, bytes(p)) for p in container.demux() if p.size]


@pytest.mark.parametrize("fixture", ["legacy_h264.flv", "interview.mp4"])
@pytest.mark.parametrize("maps", [TWO_TRACKS, FOUR_TRACKS], ids=["2 tracks", "4 tracks"])
def test_the_moved_file_is_byte_for_byte_what_ffmpeg_faststart_writes(tmp_path, fixture, maps):
    last = ffmpeg_mp4(INTERVIEW / fixture, tmp_path / "last.mp4", maps, fast=False)
    first = ffmpeg_mp4(INTERVIEW / fixture, tmp_path / "first.mp4", maps, fast=True)
    assert [b[0] for b in boxes(last.read_bytes())] == ["ftyp", "free", "mdat", "moov"]

    with open_faststart(last) as fh:
        moved = fh.read()
    assert [b[0] for b in boxes(moved)] == ["ftyp", "moov", "free", "mdat"]
    assert moved == first.read_bytes()
    (tmp_path / "moved.mp4").write_bytes(moved)
    assert video_packets(tmp_path / "moved.mp4") == video_packets(last)  # and it demuxes to the same packets


def test_small_reads_give_the_same_bytes(tmp_path):
    last = ffmpeg_mp4(INTERVIEW / "legacy_h264.flv", tmp_path / "last.mp4", TWO_TRACKS, fast=False)
    with open_faststart(last) as fh:
        whole = fh.read()
    with open_faststart(last) as fh:
        pieces = iter(lambda: fh.read(4093), b"")
        assert b"".join(pieces) == whole


def test_a_file_already_faststart_is_read_as_it_is(tmp_path):
    first = ffmpeg_mp4(INTERVIEW / "legacy_h264.flv", tmp_path / "first.mp4", TWO_TRACKS, fast=True)
    assert relocation(first) is None
    with open_faststart(first) as fh:
        assert fh.read() == first.read_bytes()


# --- hand-made files: co64, overflow, layouts ffmpeg does not write ------------------------------


def box(kind: bytes, payload: bytes, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def table(kind: bytes, offsets: list[int]) -> bytes:
    code = "I" if kind == b"stco" else "Q"
    return box(kind, struct.pack(f">II{len(offsets)}{code}", 0, len(offsets), *offsets))


def track(*tables: bytes) -> bytes:
    return box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", box(b"stsd", b"\0" * 8) + b"".join(tables)))))


def moov_last_file(kinds_and_chunks: list[tuple[bytes, list[int]]], large_mdat: bool = False) -> bytes:
    """ftyp | free | mdat (numbered bytes) | moov with one track per (table kind, chunk indexes):
    each chunk offset points at its chunk's place in the mdat."""
    ftyp, free = box(b"ftyp", b"isom\0\0\2\0isomiso2"), box(b"free", b"")
    payload = bytes(range(256)) * 4
    data_start = len(ftyp) + len(free) + (16 if large_mdat else 8)
    traks = b"".join(track(table(kind, [data_start + 10 * c for c in chunks])) for kind, chunks in kinds_and_chunks)
    return ftyp + free + box(b"mdat", payload, large=large_mdat) + box(b"moov", box(b"mvhd", b"\0" * 100) + traks)


@pytest.mark.parametrize("large_mdat", [False, True], ids=["mdat", "64-bit mdat"])
def test_co64_and_stco_tracks_each_point_at_the_same_bytes_after_the_move(tmp_path, large_mdat):
    path = tmp_path / "made.mp4"
    path.write_bytes(moov_last_file([(b"stco", [0, 3, 7]), (b"co64", [1, 2, 50]), (b"stco", [9])], large_mdat))
    before = path.read_bytes()
    with open_faststart(path) as fh:
        after = fh.read()
    assert [b[0] for b in boxes(after)] == ["ftyp", "moov", "free", "mdat"]
    moov_size = boxes(before)[-1][3]
    assert chunk_offsets(after) == [offset + moov_size for offset in chunk_offsets(before)]
    assert [after[o:o + 10] for o in chunk_offsets(after)] == [before[o:o + 10] for o in chunk_offsets(before)]
    assert len(after) == len(before)


def test_chunk_offsets_that_would_overflow_stco_are_refused():
    moov = bytearray(box(b"moov", track(table(b"stco", [0xFFFF_F000]))))
    with pytest.raises(Unusual, match="overflow"):
        faststart._shift_offsets(moov, 0x2000, 0, 1 << 40)
    co64 = bytearray(box(b"moov", track(table(b"co64", [0xFFFF_F000]))))
    assert faststart._shift_offsets(co64, 0x2000, 0, 1 << 40) == 1  # co64 has the room


@pytest.mark.parametrize("change, reason", [
    (lambda d: d + box(b"free", b""), "top-level"),                                   # moov not last
    (lambda d: d[:32] + box(b"mdat", b"x") + d[32:], "top-level"),                    # two mdats
    (lambda d: d.replace(b"mvhd", b"mvex"), "fragmented"),                            # pointers elsewhere
    (lambda d: d.replace(b"stco", b"stcx").replace(b"co64", b"co6x"), "no chunk offset"),
    (lambda d: d[:-4], "past its parent"),                                            # cut off
])
def test_layouts_it_does_not_move_are_unusual(tmp_path, change, reason):
    path = tmp_path / "made.mp4"
    path.write_bytes(change(moov_last_file([(b"stco", [0, 3]), (b"co64", [5])])))
    with pytest.raises(Unusual, match=reason):
        relocation(path)


def test_an_offset_outside_the_media_data_is_unusual(tmp_path):
    data = moov_last_file([(b"stco", [0, 3])])
    stco = data.index(b"stco")
    data = data[:stco + 12] + struct.pack(">I", 4) + data[stco + 16:]  # the first chunk inside ftyp
    path = tmp_path / "made.mp4"
    path.write_bytes(data)
    with pytest.raises(Unusual, match="outside the media data"):
        relocation(path)


# --- the media engine ------------------------------------------------------------------------------


def test_the_engine_leaves_the_index_last_for_the_reader_and_checked(tmp_path):
    result = pipeline.process(INTERVIEW / "legacy_h264.flv", tmp_path / "out", hash_source=False, faststart_on_read=True)
    video = tmp_path / "out" / "video.mp4"
    assert [b[0] for b in boxes(video.read_bytes())] == ["ftyp", "free", "mdat", "moov"]
    assert result["sha256"] is None and result["output"]["video"]["codec"] == "h264"
    with open_faststart(video) as fh:
        assert [b[0] for b in boxes(fh.read())] == ["ftyp", "moov", "free", "mdat"]


def test_a_file_the_reader_would_not_move_is_made_faststart_by_ffmpeg(tmp_path, monkeypatch):
    def unusual(path):
        raise Unusual("made up for the test")

    monkeypatch.setattr(faststart, "relocation", unusual)
    pipeline.process(INTERVIEW / "legacy_h264.flv", tmp_path / "out", faststart_on_read=True)
    video = tmp_path / "out" / "video.mp4"
    assert [b[0] for b in boxes(video.read_bytes())][:2] == ["ftyp", "moov"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["video.mp4"]
    monkeypatch.undo()
    assert relocation(video) is None
    reference = ffmpeg_mp4(INTERVIEW / "legacy_h264.flv", tmp_path / "first.mp4", TWO_TRACKS, fast=True)
    assert video_packets(video) == video_packets(reference)


def test_ffmpeg_faststart_stays_the_default(tmp_path):
    pipeline.process(INTERVIEW / "legacy_h264.flv", tmp_path / "out")
    assert [b[0] for b in boxes((tmp_path / "out" / "video.mp4").read_bytes())][:2] == ["ftyp", "moov"]
