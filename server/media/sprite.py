"""The thumbnail sprite for hover-scrubbing: one JPEG grid of small pictures and a JSON index
giving each picture's time and rectangle. Which pictures: pictures.py."""

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


def write(thumbnails: list, sprite: Path, index: Path, grid: dict) -> None:
    """Tile `thumbnails` (grid["count"] pictures of one size, in time order) into `sprite` (JPEG) and
    describe it in `index` (JSON): {"image", "width", "height", "interval", "columns", "rows",
    "thumbnails": [{"time", "x", "y", "w", "h"}]}."""
    width, height = thumbnails[0].width, thumbnails[0].height
    graph = av.filter.Graph()
    buffer = graph.add_buffer(width=width, height=height, format="yuvj420p", time_base=Fraction(1, 1))
    tiler = graph.add("tile", f"{grid['columns']}x{grid['rows']}")
    sink = graph.add("buffersink")
    buffer.link_to(tiler)
    tiler.link_to(sink)
    graph.configure()
    for number, picture in enumerate(thumbnails):
        if (picture.width, picture.height) != (width, height):  # the camera changed resolution
            picture = picture.reformat(width=width, height=height, format="yuvj420p")
        picture.pts, picture.time_base = number, Fraction(1, 1)
        graph.push(picture)
    graph.push(None)  # a short last row is flushed, padded with black
    tiled = graph.pull()
    sprite.write_bytes(jpeg(tiled, QUALITY))

    thumbs = []
    for i in range(grid["count"]):
        row, column = divmod(i, grid["columns"])
        thumbs.append({"time": i * grid["interval"], "x": column * width, "y": row * height, "w": width, "h": height})
    description = {"image": sprite.name, "width": tiled.width, "height": tiled.height,
                   "interval": grid["interval"], "columns": grid["columns"], "rows": grid["rows"], "thumbnails": thumbs}
    index.write_text(json.dumps(description, separators=(",", ":")))


def jpeg(picture, quality: int) -> bytes:
    """One picture as JPEG bytes, at a fixed mjpeg quantizer (2 best .. 31). A picture already in
    yuvj420p (pictures.py scales into it) is encoded as it is."""
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = picture.width, picture.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = quality  # a fixed quantizer: rate control means nothing for one picture
    packets = encoder.encode(picture.reformat(format="yuvj420p")) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)
