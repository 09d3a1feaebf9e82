"""The least a Python WSGI server can do for a Range request: gunicorn (same worker class, workers
and threads as `talentreel web`) running this app, which reads the asked range of the plaintext
file named by FLOOR_FILE and returns it -- no framework, no database, no decryption.

It is not TalentReel; the range benchmark runs it beside nginx to show how much of the gap to
nginx is gunicorn's own per-request cost, which no change to TalentReel's code can remove.

    FLOOR_FILE=video.mp4 gunicorn -k gthread -w 2 --threads 4 -b 127.0.0.1:PORT wsgi_floor:app
"""

from __future__ import annotations

import os
import re

PATH = os.environ.get("FLOOR_FILE", "")
READ_BYTES = 256 * 1024
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


def app(environ, start_response):
    size = os.path.getsize(PATH)
    start, end, status = 0, size, "200 OK"
    match = _RANGE.match(environ.get("HTTP_RANGE", ""))
    if match:
        start = int(match.group(1))
        end = min(size, int(match.group(2)) + 1) if match.group(2) else size
        status = "206 Partial Content"
    headers = [("Content-Type", "video/mp4"), ("Content-Length", str(end - start)), ("Accept-Ranges", "bytes")]
    if match:
        headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
    start_response(status, headers)
    return _body(start, end)


def _body(start: int, end: int):
    fd = os.open(PATH, os.O_RDONLY)
    try:
        while start < end:
            data = os.pread(fd, min(READ_BYTES, end - start), start)
            if not data:
                return
            yield data
            start += len(data)
    finally:
        os.close(fd)
