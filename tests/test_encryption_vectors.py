"""The test vectors of docs/encryption.md, read from the page itself: the implementation must
reproduce them, and so must a computation written from the page's description alone."""

from __future__ import annotations

import base64
import io
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from talentreel.server.encryption import format as fmt
from talentreel.server.encryption.keyring import Keyring
from talentreel.server.encryption.wrapping import open_key, seal_key, wrap_aad

DOC = Path(__file__).resolve().parent.parent / "docs" / "encryption.md"


def doc_vectors() -> dict:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Test vectors", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    vectors = {}
    for line in block.strip().splitlines():
        name, value = (part.strip() for part in line.split("=", 1))
        if value.startswith('"'):
            vectors[name] = value.strip('"')
        elif re.fullmatch(r"\d+", value) and name in ("kek_version", "candidate_id", "segment_size", "object_size"):
            vectors[name] = int(value)
        else:
            vectors[name] = bytes.fromhex(value)
    return vectors


@pytest.fixture(scope="module")
def v():
    return doc_vectors()


def test_the_doc_has_every_vector(v):
    assert set(v) >= {"kek", "candidate_key", "candidate_key_wrapped", "data_key", "data_key_wrapped", "object_id",
                      "nonce_prefix", "plaintext", "header", "segment_0", "segment_1", "segment_2", "empty_object_segment_0"}
    assert len(v["plaintext"]) > 2 * v["segment_size"]  # spans three segments


def test_implementation_reproduces_the_key_wrapping_vectors(v):
    keyring = Keyring({v["kek_version"]: v["kek"]})
    subject = f"candidate-key candidate={v['candidate_id']}"
    stored = seal_key(v["kek"], v["candidate_key"], subject, f"kek:{v['kek_version']}", nonce=v["candidate_key_nonce"])
    assert stored == v["candidate_key_stored"]
    assert base64.b64decode(stored) == v["candidate_key_wrapped"]
    assert wrap_aad(subject, f"kek:{v['kek_version']}").decode() == v["candidate_key_aad"]
    assert keyring.unwrap(v["kek_version"], v["candidate_key_stored"], subject) == v["candidate_key"]

    subject = f"data-key object={v['object_id'].hex()}"
    wrapper = f"candidate-key:{v['candidate_id']}"
    stored = seal_key(v["candidate_key"], v["data_key"], subject, wrapper, nonce=v["data_key_nonce"])
    assert stored == v["data_key_stored"]
    assert wrap_aad(subject, wrapper).decode() == v["data_key_aad"]
    assert open_key(v["candidate_key"], v["data_key_stored"], subject, wrapper) == v["data_key"]


def test_implementation_reproduces_the_object_vectors(v):
    cipher = fmt.ObjectCipher.create(v["data_key"], v["object_id"], segment_size=v["segment_size"], nonce_prefix=v["nonce_prefix"])
    parts = list(fmt.encrypt(io.BytesIO(v["plaintext"].encode()), cipher))
    assert [p.hex() for p in parts] == [v[k].hex() for k in ("header", "segment_0", "segment_1", "segment_2")]
    assert sum(map(len, parts)) == v["object_size"]
    assert cipher.header.nonce(0, fmt.FLAG_HEADER) == v["header_nonce"]
    assert [cipher.header.nonce(i, f) for i, f in ((0, 0), (1, 0), (2, 1))] == [v["segment_0_nonce"], v["segment_1_nonce"], v["segment_2_nonce"]]
    empty = list(fmt.encrypt(io.BytesIO(b""), cipher))
    assert empty == [v["header"], v["empty_object_segment_0"]]

    obj = b"".join(parts)
    reader = fmt.ObjectCipher(v["data_key"], fmt.parse_header(obj, "vector"))
    assert b"".join(fmt.decrypt_range(io.BytesIO(obj), reader, len(obj))).decode() == v["plaintext"]


def test_the_page_alone_is_enough_to_produce_the_vectors(v):
    """A second implementation, from docs/encryption.md's tables, with only AESGCM."""
    size = v["segment_size"]
    body = b"TREN" + bytes([1, 1]) + struct.pack(">I", size) + v["object_id"] + v["nonce_prefix"]
    assert len(body) == 33
    aead = AESGCM(v["data_key"])
    header = body + aead.encrypt(v["nonce_prefix"] + b"\x00\x00\x00\x00\x02", b"", body)
    assert header == v["header"]
    plaintext = v["plaintext"].encode()
    pieces = [plaintext[i:i + size] for i in range(0, len(plaintext), size)]
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        nonce = v["nonce_prefix"] + struct.pack(">I", i) + (b"\x01" if final else b"\x00")
        assert aead.encrypt(nonce, piece, header) == v[f"segment_{i}"]
    assert aead.encrypt(v["nonce_prefix"] + b"\x00\x00\x00\x00\x01", b"", header) == v["empty_object_segment_0"]

    aad = v["candidate_key_aad"].encode()
    assert v["candidate_key_nonce"] + AESGCM(v["kek"]).encrypt(v["candidate_key_nonce"], v["candidate_key"], aad) == v["candidate_key_wrapped"]
    aad = v["data_key_aad"].encode()
    assert v["data_key_nonce"] + AESGCM(v["candidate_key"]).encrypt(v["data_key_nonce"], v["data_key"], aad) == v["data_key_wrapped"]
    assert base64.b64encode(v["data_key_wrapped"]).decode() == v["data_key_stored"]
