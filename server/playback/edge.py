"""The media server (`talentreel media-server`): recordings' media over HTTP/1.1, and nothing else.

Why a server of its own: a replay is dozens of Range requests a minute per viewer, each needing a
few encrypted segments decrypted. Through the WSGI stack (gunicorn, Flask, the session interface)
most of each request's time goes to the stack, not to the bytes. This server answers the same URLs
(`/media/<token>/<name>`) with the same rules as the web app's media endpoint (access.py decides
who may fetch what; ranges.py reads the Range header; the encrypted store's data keys), but in an
event loop whose fast path, taken while an access decision is fresh, is: parse the request, pread
the touched segments, authenticate and decrypt them, write the response - no threads, no
framework, no database.

What goes to a thread pool: access checks (database, permission hook; at most once per token,
sign-in cookie and file every tokens.AUTH_CACHE_SECONDS, which bounds how long a withdrawn access
keeps working), opening an object (its data key), and reading from storage backends that are not
local files (S3: each range is read in a thread). Large bodies (whole files, ranges above
FAST_BYTES) stream in CHUNK_BYTES pieces that wait for the socket to drain, so memory stays flat.

Like the web app's endpoint it never logs a token or a request line, answers `Cache-Control:
private, no-store`, verifies every segment before any of its bytes leave, and ends a response short
(closing the connection) if a segment fails authentication after the headers went out.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import signal
import socket
import sys
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from ..encryption import format as fmt
from ..encryption.errors import IntegrityError, UnknownObject
from ..recordings import object_key
from . import access, tokens
from .ranges import Unsatisfiable, parse_range

log = logging.getLogger("talentreel.media_server")

SERVED = {
    b"video.mp4": b"video/mp4",
    b"poster.jpg": b"image/jpeg",
    b"sprite.jpg": b"image/jpeg",
    b"sprite.json": b"application/json",
}
"""What a media token opens (as in views.SERVED): never the original or the analysis audio."""

MAX_HEAD_BYTES = 16 * 1024
"""A request head larger than this is refused (431): media requests are a line and a few headers."""

FAST_BYTES = 4 * 1024 * 1024
"""Ranges up to this size are answered in one piece straight from the event loop."""

CHUNK_BYTES = 1024 * 1024
"""Larger bodies go out in pieces of this size, each waiting for the socket to take the last."""

CACHE_ENTRIES = 10000
"""Open objects (with their access decision) kept per process, least recently used dropped first."""

COMMON_HEADERS = (b"Cache-Control: private, no-store\r\nAccept-Ranges: bytes\r\nX-Content-Type-Options: nosniff\r\n"
                  b"Referrer-Policy: no-referrer\r\nAccess-Control-Allow-Origin: *\r\n"
                  b"Access-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges\r\n")
# Any origin may read with a token (it is the credential; cookies never authorise media here), and a
# wildcard origin never lets a page read a response fetched with the visitor's cookies.

REASONS = {200: b"OK", 204: b"No Content", 206: b"Partial Content", 400: b"Bad Request", 403: b"Forbidden",
           404: b"Not Found", 405: b"Method Not Allowed", 416: b"Range Not Satisfiable",
           431: b"Request Header Fields Too Large", 500: b"Internal Server Error", 503: b"Service Unavailable"}


@dataclass
class Request:
    method: bytes
    path: bytes
    keep_alive: bool
    arrived: float = 0.0
    range: str | None = None
    cookie: str | None = None
    language: str | None = None


class BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def parse_head(head: bytes, session_cookie: str) -> Request:
    """The request line and the few headers this server reads (RFC 9112 framing)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    keep_alive = version == b"HTTP/1.1"
    request = Request(method, target.split(b"?", 1)[0], keep_alive, time.perf_counter())
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "malformed header line")
        name = name.lower()
        if name == b"range":
            request.range = value.strip().decode("latin-1")
        elif name == b"cookie":
            request.cookie = _cookie(value.decode("latin-1"), session_cookie)
        elif name == b"connection":
            tokens_ = {t.strip().lower() for t in value.split(b",")}
            if b"close" in tokens_:
                request.keep_alive = False
            elif b"keep-alive" in tokens_:
                request.keep_alive = True
        elif name == b"accept-language":
            request.language = value.strip().decode("latin-1")
        elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            # GET and HEAD carry no body; one sent anyway could not be framed safely: refuse and close.
            raise BadRequest(400, "request with a body")
    return request


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value or None
    return None


@dataclass
class Opened:
    """An object a fresh access decision opened: what the fast path needs to serve any range."""

    expires: float
    content_type: bytes
    plaintext_size: int
    cipher: fmt.ObjectCipher | None = None
    fileobj: object = None  # keeps `fd` open; closed when the entry is dropped
    fd: int | None = None  # None: a backend without a file descriptor, read in a thread
    key: str = ""
    users: int = field(default=0)  # streaming responses using fd right now

    def close(self) -> None:
        if self.fileobj is not None and self.users == 0:
            self.fileobj.close()
            self.fileobj = None


class MediaServer:
    """The state of one server process: the app (settings, database, store), the access cache,
    the thread pool, and the refusal messages in each locale."""

    def __init__(self, app, threads: int = 8):
        from ..auth import sessions

        self.app = app
        self.state = app.extensions["talentreel"]
        self.secret = app.config["SECRET_KEY"]
        self.session_cookie = sessions.COOKIE_NAME
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="talentreel-media")
        self.cache: OrderedDict[tuple, Opened] = OrderedDict()
        self.checking: dict[tuple, asyncio.Future] = {}
        self.messages = _messages(app)
        self._date, self._date_at = b"", 0

    # --- the event loop side ---------------------------------------------------------------

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date_at:
            self._date, self._date_at = email.utils.formatdate(now, usegmt=True).encode(), now
        return self._date

    def fresh(self, key: tuple) -> Opened | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            del self.cache[key]
            entry.close()
            return None
        return entry

    def remember(self, key: tuple, entry: Opened) -> None:
        old = self.cache.pop(key, None)
        if old is not None:
            old.close()
        self.cache[key] = entry
        while len(self.cache) > CACHE_ENTRIES:
            _, dropped = self.cache.popitem(last=False)
            dropped.close()

    def route(self, request: Request):
        """(token, name, content type) of a media request, or a finished response (bytes)."""
        if request.method not in (b"GET", b"HEAD", b"OPTIONS"):
            return self.refusal(405, request, b"Allow: GET, HEAD, OPTIONS\r\n")
        if request.path == b"/-/health":
            return self.response(200, request, b"text/plain", b"ok\n")
        parts = request.path.split(b"/")
        if len(parts) != 4 or parts[0] or parts[1] != b"media" or parts[3] not in SERVED:
            return self.refusal(404, request)
        if request.method == b"OPTIONS":  # a CORS preflight (a script fetching with a Range header)
            return self.response(204, request, None, b"", b"Access-Control-Allow-Methods: GET, HEAD\r\n"
                                 b"Access-Control-Allow-Headers: Range\r\nAccess-Control-Max-Age: 600\r\n")
        return parts[2].decode("latin-1"), parts[3], SERVED[parts[3]]

    def answer_now(self, request: Request):
        """The whole response when it can be made without waiting (a fresh decision, a local file,
        a range up to FAST_BYTES, or a refusal), else None: then answer() is awaited."""
        routed = self.route(request)
        if isinstance(routed, bytes):
            return routed
        token, name, _ = routed
        # A fresh entry means this token was verified (and the access decided) moments ago, and
        # expires with the token at the latest: checking the signature again is most of a request's cost.
        entry = self.fresh((token, request.cookie, name))
        if entry is None:
            try:
                access.read_grant(self.secret, token)  # signature and age: no database, refused early
            except access.Refused as refused:
                log.info("media request refused (%s): %s", refused.status, refused.reason)
                return self.refusal(refused.status, request)
            return None
        if entry.fd is None:
            return None
        planned = self.plan(request, entry)
        if isinstance(planned, bytes):
            return planned
        head, start, end = planned
        if end - start > FAST_BYTES:
            return None
        try:
            response = [head, *_decrypt(entry, start, end)]  # written with one writev, no joining copies
        except IntegrityError as exc:
            return self.integrity_failure(request, entry, exc)
        _observe_ttfb(name, request)
        return response

    def plan(self, request: Request, entry: Opened):
        """The response head and the byte range to send, or a finished response (416, HEAD)."""
        total = entry.plaintext_size
        try:
            wanted = parse_range(request.range, total)
        except Unsatisfiable:
            return self.response(416, request, None, b"", b"Content-Range: bytes */%d\r\n" % total)
        if wanted is None:
            status, start, end, extra = 200, 0, total, b""
        else:
            status, start, end = 206, wanted.start, wanted.end
            extra = b"Content-Range: bytes %d-%d/%d\r\n" % (start, end - 1, total)
        head = self.head(status, request, entry.content_type, end - start, extra)
        if request.method == b"HEAD":
            return head
        return head, start, end

    async def answer(self, request: Request, connection: "MediaProtocol") -> None:
        """The slow path: an access check or an open in a thread, or a large body streamed."""
        token, name, content_type = self.route(request)
        key = (token, request.cookie, name)
        entry = self.fresh(key)
        if entry is None:
            try:
                entry = await self.check(key, content_type)
            except access.Refused as refused:
                log.info("media request refused (%s): %s", refused.status, refused.reason)
                connection.send(self.refusal(refused.status, request))
                return
            except IntegrityError as exc:
                connection.send(self.integrity_failure(request, None, exc))
                return
            except Exception:
                log.exception("media request failed")
                connection.send(self.refusal(503, request))
                return
        planned = self.plan(request, entry)
        if isinstance(planned, bytes):
            connection.send(planned)
            return
        head, start, end = planned
        if entry.fd is not None:
            await self.stream_local(connection, request, key, entry, head, start, end)
        else:
            await self.stream_backend(connection, request, entry, head, start, end)

    async def stream_local(self, connection, request, key: tuple, entry: Opened, head: bytes, start: int, end: int) -> None:
        entry.users += 1  # the entry may be dropped meanwhile: its file stays open until we are done
        try:
            sent_head = False
            position = start
            while position < end:
                piece_end = min(end, position + CHUNK_BYTES)
                try:
                    body = list(_decrypt(entry, position, piece_end))
                except IntegrityError as exc:
                    if not sent_head:
                        connection.send(self.integrity_failure(request, entry, exc))
                        return
                    log.error("integrity error serving %s: %s", entry.key, exc)
                    connection.abort()  # headers are out: end short so the player reports an error
                    return
                if not sent_head:
                    _observe_ttfb(entry_name(key), request)
                connection.send_all(body if sent_head else [head, *body])
                sent_head = True
                position = piece_end
                if not await connection.drained():
                    return  # the client went away
            if not sent_head:
                connection.send(head)
        finally:
            entry.users -= 1
            if self.cache.get(key) is not entry:
                entry.close()  # dropped from the cache while we streamed: its file is ours to close

    async def stream_backend(self, connection, request, entry: Opened, head: bytes, start: int, end: int) -> None:
        """A backend without file descriptors (S3): the encrypted store reads the range in a thread."""
        loop = asyncio.get_running_loop()
        store = self.state.store
        try:
            body = await loop.run_in_executor(self.pool, self._open_range, store, entry.key, start, end)
        except IntegrityError as exc:
            connection.send(self.integrity_failure(request, entry, exc))
            return
        chunks = iter(body)
        try:
            first = await loop.run_in_executor(self.pool, next, chunks, b"")
        except IntegrityError as exc:
            body.close()
            connection.send(self.integrity_failure(request, entry, exc))
            return
        try:
            _observe_ttfb(entry.key.rsplit("/", 1)[-1].encode(), request)
            connection.send(head + first)
            while await connection.drained():
                piece = await loop.run_in_executor(self.pool, next, chunks, None)
                if piece is None:
                    return
                connection.send(piece)
        except IntegrityError as exc:
            log.error("integrity error serving %s: %s", entry.key, exc)
            connection.abort()
        finally:
            await loop.run_in_executor(self.pool, body.close)

    def _open_range(self, store, key: str, start: int, end: int):
        with self.app.app_context():
            return store.open_object(key, key_max_age=tokens.AUTH_CACHE_SECONDS).range(start, end)

    async def check(self, key: tuple, content_type: bytes) -> Opened:
        """The access decision and the opened object for `key`; one check per key at a time."""
        pending = self.checking.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self.pool, self._check, key, content_type)
            self.checking[key] = pending
            try:
                entry = await pending
            finally:
                del self.checking[key]
            self.remember(key, entry)
            return entry
        return await asyncio.shield(pending)

    # --- the thread side ---------------------------------------------------------------------

    def _check(self, key: tuple, content_type: bytes) -> Opened:
        from . import views

        token, cookie, name = key
        try:
            grant, token_expires = tokens.read_with_expiry(self.secret, token)
        except tokens.InvalidToken as exc:
            raise access.Refused(403, f"token {exc.reason}") from None
        database = self.state.database
        with self.app.app_context():
            try:
                recording = access.playable_recording(grant, cookie)
                views._touch_played(recording)
                if recording.tier == "cold":
                    views._bring_back(recording)
                store_key = object_key(recording.id, name.decode())
                try:
                    opened = self.state.store.open_object(store_key, key_max_age=tokens.AUTH_CACHE_SECONDS)
                except (UnknownObject, FileNotFoundError):
                    raise access.Refused(404, f"no {name.decode()} stored") from None
            finally:
                if not database.is_closed():
                    database.close()
        # Fresh for AUTH_CACHE_SECONDS, and never past the token's own expiry.
        lifetime = min(tokens.AUTH_CACHE_SECONDS, token_expires - time.time())
        entry = Opened(expires=time.monotonic() + lifetime, content_type=content_type,
                       plaintext_size=opened.plaintext_size, cipher=opened.cipher, key=store_key)
        fileobj = opened.detach_file()
        try:
            entry.fd = fileobj.fileno()
            entry.fileobj = fileobj
        except (AttributeError, OSError, ValueError):
            fileobj.close()  # no descriptor (S3): each range is read through the store, in a thread
        return entry

    # --- responses ---------------------------------------------------------------------------

    def head(self, status: int, request: Request, content_type: bytes | None, length: int, extra: bytes = b"") -> bytes:
        return b"".join((
            b"HTTP/1.1 %d %s\r\nDate: %s\r\n" % (status, REASONS[status], self.date()),
            b"Content-Type: %s\r\n" % content_type if content_type else b"",
            b"Content-Length: %d\r\n" % length, COMMON_HEADERS, extra,
            b"" if request.keep_alive else b"Connection: close\r\n", b"\r\n"))

    def response(self, status: int, request: Request, content_type: bytes | None, body: bytes, extra: bytes = b"") -> bytes:
        head = self.head(status, request, content_type, len(body), extra)
        return head if request.method == b"HEAD" else head + body

    def refusal(self, status: int, request: Request, extra: bytes = b"") -> bytes:
        locale = _locale(request.language)
        body = self.messages[locale].get(status) or self.messages[locale][404]
        return self.response(status, request, b"text/plain; charset=utf-8", body, extra)

    def integrity_failure(self, request: Request, entry: Opened | None, exc: Exception) -> bytes:
        log.error("integrity error serving %s: %s", entry.key if entry else "an object", exc)
        return self.refusal(500, request)


def entry_name(key: tuple) -> bytes:
    return key[2]


def _observe_ttfb(name: bytes, request: Request) -> None:
    """The same histogram as the web app's endpoint (monitoring/metrics.py): arrival of the request
    to its first body byte handed to the socket."""
    from talentreel.monitoring.metrics import media_ttfb

    media_ttfb.labels(name.decode()).observe(time.perf_counter() - request.arrived)


def _decrypt(entry: Opened, start: int, end: int):
    """Plaintext of [start, end) of a local object: one pread for the touched segments, each
    authenticated before its bytes are used."""
    cipher = entry.cipher
    header = cipher.header
    size = header.segment_size
    total = entry.plaintext_size
    if start >= end:
        return
    count = header.segment_count(total)
    first, last = start // size, (end - 1) // size
    offset = header.segment_offset(first)
    final_length = total - (count - 1) * size
    length = (last - first) * (size + fmt.TAG_SIZE) + (final_length if last == count - 1 else size) + fmt.TAG_SIZE
    data = os.pread(entry.fd, length, offset)
    if len(data) != length:
        raise IntegrityError(f"object {entry.key}: segments {first}-{last} of {count} are short (truncated while being read)",
                             object_name=entry.key, segment=first)
    view = memoryview(data)
    at = 0
    for index in range(first, last + 1):
        final = index == count - 1
        n = (final_length if final else size) + fmt.TAG_SIZE
        plaintext = cipher.open(index, final, view[at:at + n], count)
        at += n
        lo = start - index * size if index == first else 0
        hi = end - index * size if index == last else len(plaintext)
        yield plaintext if (lo == 0 and hi == len(plaintext)) else memoryview(plaintext)[lo:hi]


def _messages(app) -> dict[str, dict[int, bytes]]:
    """Refusal texts in every locale, translated once at start-up (same wording as the web app)."""
    from flask_babel import force_locale

    from .. import defaults
    from ..i18n import _

    texts = {}
    with app.app_context():
        for locale in defaults.LOCALES:
            with force_locale(locale):
                texts[locale] = {
                    400: _("This request is malformed.").encode(),
                    403: _("This media link is not valid; reload the replay page.").encode(),
                    404: _("Not found.").encode(),
                    405: _("Only GET and HEAD are served here.").encode(),
                    431: _("This request is malformed.").encode(),
                    500: _("This recording failed its integrity check and cannot be played. The administrator was notified.").encode(),
                    503: _("The media server cannot reach its database or storage right now; try again shortly.").encode(),
                }
    return texts


def _locale(accept_language: str | None) -> str:
    if accept_language:
        offers = {"en": "en", "zh_CN": "zh_CN", "zh-CN": "zh_CN", "zh": "zh_CN", "zh-Hans": "zh_CN"}
        best = parse_accept_header(accept_language, LanguageAccept).best_match(list(offers))
        if best:
            return offers[best]
    return "en"


class MediaProtocol(asyncio.Protocol):
    """One client connection: requests are answered in order (HTTP/1.1 pipelining included);
    while a slow answer is under way, reading pauses and later requests wait in the buffer."""

    def __init__(self, server: MediaServer):
        self.server = server
        self.buffer = bytearray()
        self.busy = False
        self.closed = False
        self.writable: asyncio.Event | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.writable = asyncio.Event()
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.process()

    def process(self) -> None:
        server = self.server
        while not self.busy and not self.closed:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    self.fail(431)
                return
            if end > MAX_HEAD_BYTES:
                self.fail(431)
                return
            head = bytes(self.buffer[:end])
            del self.buffer[:end + 4]
            try:
                request = parse_head(head, server.session_cookie)
            except BadRequest as exc:
                self.fail(exc.status)
                return
            answer = server.answer_now(request)
            if answer is not None:
                if isinstance(answer, list):
                    self.transport.writelines(answer)
                else:
                    self.transport.write(answer)
                if not request.keep_alive:
                    self.finish()
                continue
            self.busy = True
            self.transport.pause_reading()
            asyncio.get_running_loop().create_task(self.slow(request))

    async def slow(self, request: Request) -> None:
        try:
            await self.server.answer(request, self)
        except Exception:
            log.exception("media request failed")
            self.abort()
        finally:
            self.busy = False
        if self.closed:
            return
        if not request.keep_alive:
            self.finish()
            return
        self.transport.resume_reading()
        self.process()

    def send(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def send_all(self, buffers: list) -> None:
        if not self.closed:
            self.transport.writelines(buffers)

    async def drained(self) -> bool:
        """Wait until the socket took what was written; False when the client is gone."""
        if not self.writable.is_set():
            await self.writable.wait()
        return not self.closed

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def fail(self, status: int) -> None:
        self.transport.write(self.server.refusal(status, Request(b"GET", b"", False)))
        self.finish()

    def finish(self) -> None:
        self.closed = True
        self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.transport.abort()

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.writable is not None:
            self.writable.set()


# --- processes -----------------------------------------------------------------------------


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(server: MediaServer, sock: socket.socket, stop: asyncio.Event) -> None:
    """Accept connections on `sock` until `stop` is set."""
    listener = await asyncio.get_running_loop().create_server(lambda: MediaProtocol(server), sock=sock)
    try:
        await stop.wait()
    finally:
        listener.close()
        await listener.wait_closed()


def serve_process(app, sock: socket.socket) -> None:
    """One server process: an event loop (uvloop when installed) on the shared listening socket."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio also works
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = MediaServer(app)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        loop.run_until_complete(serve(server, sock, stop))
    finally:
        server.pool.shutdown(wait=False, cancel_futures=True)
        loop.close()


def run(app, host: str, port: int, workers: int, on_ready=None) -> None:
    """Serve with `workers` processes sharing one listening socket; a process that dies is
    replaced; SIGTERM or SIGINT stops them all."""
    database = app.extensions["talentreel"].database
    sock = listen(host, port)
    # Connections must not cross a fork.
    if not database.is_closed():
        database.close()
    if hasattr(database, "close_all"):
        database.close_all()
    children: dict[int, int] = {}
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve_process(app, sock)
            except BaseException:
                log.exception("media server process failed")
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        spawn(slot)
    if on_ready is not None:
        on_ready()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        slot = children.pop(pid, None)
        if slot is not None and not stopping:
            log.error("media server process %s ended (status %s); starting another", pid, status)
            time.sleep(0.5)
            spawn(slot)
    sock.close()
    sys.stdout.flush()
