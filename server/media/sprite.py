"""The thumbnail sprite for hover-scrubbing: one JPEG grid of small pictures and a JSON index
giving each picture's time and rectangle.

ffmpeg writes the thumbnails as a raw stream while it reads the recording, and they are tiled
here afterwards. Tiling inside ffmpeg would hold its only output back until the very end, and
the job's progress is that of its slowest ffmpeg: the UI would see nothing until it was done.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import av

THUMB_WIDTH = 160
MAX_THUMBS = 100
COLUMNS = 10
QUALITY = 5
"""mjpeg quantizer, 2 (best) .. 31; thumbnails this small look fine at 5."""


def layout(duration: float) -> dict:
    """Thumbnail interval (whole seconds, so a player finds a tile as floor(t / interval)), how
    many thumbnails, and the grid, for a recording of `duration` seconds."""
    interval = max(1, math.ceil(duration / MAX_THUMBS))
    count = max(1, math.ceil(duration / interval))
    columns = min(COLUMNS, count)
    return {"interval": interval, "count": count, "columns": columns, "rows": math.ceil(count / columns)}


def thumbnail_filter(duration: float, grid: dict) -> str:
    """ffmpeg filter turning the decoded video into grid["count"] thumbnails, one per interval,
    then ending the stream.

    tpad repeats the last picture past the end of the stream: when only keyframes are decoded the
    last one may come long before the end, and the fps filter would otherwise stop there. The fps
    filter counts from 0, the start of video.mp4, even when the picture starts later than the sound.
    """
    pad = duration + 2 * grid["interval"]
    return (f"tpad=stop_mode=clone:stop_duration={pad:.3f},fps=fps=1/{grid['interval']}:start_time=0,"
            f"trim=end_frame={grid['count']},scale={THUMB_WIDTH}:-2,format=yuv420p")


def tile(raw: Path, sprite: Path, index: Path, grid: dict) -> None:
    """Tile the raw thumbnails ffmpeg wrote into `sprite` (JPEG) and describe it in `index` (JSON):
    {"image", "width", "height", "interval", "columns", "rows", "thumbnails": [{"time", "x", "y", "w", "h"}]}."""
    with av.open(str(raw)) as source:
        stream = source.streams.video[0]
        graph = av.filter.Graph()
        buffer = graph.add_buffer(template=stream)
        tiler = graph.add("tile", f"{grid['columns']}x{grid['rows']}")
        sink = graph.add("buffersink")
        buffer.link_to(tiler)
        tiler.link_to(sink)
        graph.configure()
        for count, frame in enumerate(source.decode(stream), start=1):
            graph.push(frame)
            if count == grid["count"]:
                break
        graph.push(None)  # a short last row is flushed, padded with black
        picture = graph.pull()
    sprite.write_bytes(_jpeg(picture))

    tile_width, tile_height = picture.width // grid["columns"], picture.height // grid["rows"]
    thumbnails = []
    for i in range(grid["count"]):
        row, column = divmod(i, grid["columns"])
        thumbnails.append({"time": i * grid["interval"], "x": column * tile_width, "y": row * tile_height,
                           "w": tile_width, "h": tile_height})
    description = {"image": sprite.name, "width": picture.width, "height": picture.height,
                   "interval": grid["interval"], "columns": grid["columns"], "rows": grid["rows"], "thumbnails": thumbnails}
    index.write_text(json.dumps(description, separators=(",", ":")))


def _jpeg(picture) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = picture.width, picture.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = QUALITY  # a fixed quantizer: rate control means nothing for one picture
    packets = encoder.encode(picture.reformat(format="yuvj420p")) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)
