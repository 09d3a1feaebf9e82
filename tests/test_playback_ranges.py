"""Range header parsing and media tokens."""

from __future__ import annotations

import time

import pytest

from talentreel.server.playback.ranges import ByteRange, Unsatisfiable, parse_range
from talentreel.server.playback.tokens import InvalidToken, MediaGrant, issue, read

TOTAL = 1000


@pytest.mark.parametrize("header, expected", [
    (None, None),
    ("", None),
    ("bytes=0-", ByteRange(0, 1000)),
    ("bytes=0-0", ByteRange(0, 1)),
    ("bytes=10-19", ByteRange(10, 20)),
    ("bytes=990-2000", ByteRange(990, 1000)),  # clipped to the end
    ("bytes=-100", ByteRange(900, 1000)),  # suffix
    ("bytes=-5000", ByteRange(0, 1000)),
    ("BYTES = 5 - 9", ByteRange(5, 10)),
    ("bytes=0-1,5-9", None),  # several ranges: whole body
    ("bytes=9-5", None),  # invalid: ignored
    ("items=0-5", None),
    ("bytes=abc", None),
    ("bytes=-", None),
])
def test_parse_range(header, expected):
    assert parse_range(header, TOTAL) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, TOTAL)


def test_content_range():
    assert ByteRange(10, 20).content_range(TOTAL) == "bytes 10-19/1000"


def test_token_round_trip_and_tampering():
    grant = MediaGrant(user_id=3, recording_id=7, session_kind="web", session_id=11)
    token = issue("k" * 40, grant)
    assert read("k" * 40, token) == grant
    with pytest.raises(InvalidToken, match="invalid"):
        read("other-secret" * 4, token)
    with pytest.raises(InvalidToken, match="invalid"):
        read("k" * 40, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_token_expires():
    token = issue("k" * 40, MediaGrant(1, 2, "web", 3))
    time.sleep(1.1)
    with pytest.raises(InvalidToken, match="expired"):
        read("k" * 40, token, max_age=0)
