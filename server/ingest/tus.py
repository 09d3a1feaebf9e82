"""The tus 1.0.0 resumable upload protocol: core, creation, termination, expiration and checksum.

Protocol: https://tus.io/protocols/resumable-upload. POST creates an upload (Upload-Length and
Upload-Metadata with candidate_id, optional interview_id, filename and filetype), HEAD tells how
many bytes the server holds, PATCH appends bytes at that offset, DELETE abandons the upload.
GET answers what HEAD does, plus a JSON body an integration can read (the upload's state and,
once complete, its recording).

Two blueprints share these views: `browser_bp` at /uploads/ trusts the session cookie and is
CSRF-protected (scripts send the token in X-CSRFToken); `api_bp` at /api/v1/uploads/ trusts only
a bearer token and is exempt from CSRF, which is safe because it never reads a cookie.
"""

from __future__ import annotations

import base64
import binascii
import errno
import secrets
import shutil
from contextlib import contextmanager
from typing import Callable

import peewee as pw
from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from .. import models as m
from ..errors import DatabaseUnavailable, ValidationError
from ..i18n import _
from ..permissions import can
from . import access, cleanup, completion, metadata, parts

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration,checksum"
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
"""Upload-Checksum algorithms, named as tus clients name them (and as hashlib does)."""

OFFSET_STREAM = "application/offset+octet-stream"

IDLE_TIMEOUT_SECONDS = 60
"""A PATCH whose client sends nothing for this long is ended, releasing the upload's lock: a
client that lost its connection without the server noticing can then resume."""

RECORDING_HEADER = "Talentreel-Recording-Id"
"""Response header naming the recording a completed upload became (PATCH answers 204, no body)."""


class TusError(Exception):
    """A protocol answer other than success: status, message for the client, extra headers."""

    def __init__(self, status: int, message: str, **headers: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = {name.replace("_", "-"): value for name, value in headers.items()}


class UploadGone(Exception):
    """The upload's row went away while its bytes were arriving (terminated or expired)."""


def make_blueprint(name: str, url_prefix: str, authenticate: Callable[[], m.User | None], *,
                   challenge: str | None = None, static: bool = False, csrf_exempt: bool = False) -> Blueprint:
    """A blueprint speaking tus at `url_prefix`/, whose caller is `authenticate()` (None: 401).

    challenge: WWW-Authenticate value of 401 answers (bearer-token clients need it).
    static: serve upload.js from this blueprint's static folder.
    csrf_exempt: exempt the blueprint from CSRFProtect; only for token-authenticated blueprints.
    """
    bp = Blueprint(name, __name__, url_prefix=url_prefix,
                   static_folder="static" if static else None, static_url_path="/static" if static else None)
    rules = (
        ("/", "discover", discover, ["OPTIONS"]),
        ("/", "create", create, ["POST"]),
        ("/<token>", "discover_upload", discover, ["OPTIONS"]),
        ("/<token>", "status", status, ["GET"]),  # HEAD too: Flask answers HEAD with GET's headers
        ("/<token>", "append", append, ["PATCH"]),
        ("/<token>", "terminate", terminate, ["DELETE"]),
    )
    for rule, endpoint, view, methods in rules:
        bp.add_url_rule(rule, endpoint, view, methods=methods, provide_automatic_options=False)

    @bp.before_request
    def identify_caller():
        if request.endpoint == f"{name}.static" or request.method == "OPTIONS":
            return None  # the script and protocol discovery are public
        if request.method != "GET" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise TusError(412, _("This server speaks tus %(version)s; send the Tus-Resumable header.", version=TUS_VERSION),
                           Tus_Version=TUS_VERSION)
        g.user = authenticate()
        if g.user is None:
            if challenge:
                raise TusError(401, _("Send an API token as 'Authorization: Bearer <token>'."), WWW_Authenticate=challenge)
            raise TusError(401, _("Sign in to upload recordings."))
        return None

    @bp.after_request
    def protocol_headers(response):
        response.headers["Tus-Resumable"] = TUS_VERSION
        if request.endpoint != f"{name}.static":
            response.headers["Cache-Control"] = "no-store"  # offsets change under a cache's feet
        return response

    bp.register_error_handler(TusError, _tus_error)
    bp.register_error_handler(CSRFError, lambda exc: _error(400, _(
        "The form expired or did not come from this site; reload the page and try again.")))
    bp.register_error_handler(pw.OperationalError, _database_down)
    bp.register_error_handler(pw.InterfaceError, _database_down)
    bp.register_error_handler(DatabaseUnavailable, _database_down)
    # By code as well as by class: the application registers handlers for these codes, and Flask
    # prefers a handler registered for the exact code to a blueprint's class-based one.
    for code in (400, 403, 404, 413, 500):
        bp.register_error_handler(code, _http_error)
    bp.register_error_handler(HTTPException, _http_error)
    if csrf_exempt:
        bp.record_once(lambda state: state.app.extensions["csrf"].exempt(bp) if "csrf" in state.app.extensions else None)
    return bp


# --- views ---------------------------------------------------------------------------------


def discover(token: str | None = None):
    response = Response(status=204)
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    response.headers["Tus-Max-Size"] = str(_settings()["max_upload_bytes"])
    response.headers["Tus-Checksum-Algorithm"] = ",".join(CHECKSUM_ALGORITHMS)
    return response


def create():
    settings = _settings()
    if "Upload-Defer-Length" in request.headers:
        raise TusError(400, _("Send the file's size in Upload-Length; deferring it is not supported."))
    length = _number_header("Upload-Length")
    if length is None:
        raise TusError(400, _("Send the file's size in the Upload-Length header."))
    if length == 0:
        raise TusError(400, _("The file is empty."))
    if length > settings["max_upload_bytes"]:
        raise TusError(413, _("The file is larger than the limit of %(limit)s.", limit=human_size(settings["max_upload_bytes"])))
    try:
        meta = metadata.parse(request.headers.get("Upload-Metadata"))
    except metadata.MetadataError as exc:
        raise TusError(400, _("Upload-Metadata is malformed: %(reason)s", reason=str(exc))) from None
    candidate, interview = _targets(meta)
    directory = parts.uploads_dir(settings["data_dir"])
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if shutil.disk_usage(directory).free < length:
        raise TusError(507, _("The server does not have room for this file right now; try again later."))

    token = secrets.token_hex(16)
    upload = m.Upload.create(
        token=token, user=g.user, candidate=candidate, interview=interview, size_bytes=length,
        filename=metadata.clean_filename(meta.get("filename") or meta.get("name")),
        filetype=metadata.clean_filetype(meta.get("filetype") or meta.get("type")),
    )
    try:
        parts.create(parts.part_path(settings["data_dir"], token))
    except BaseException:
        upload.delete_instance()
        raise
    response = Response(status=201)
    response.headers["Location"] = url_for(".status", token=token)
    response.headers["Upload-Expires"] = http_date(cleanup.expires_at(upload))
    return response


def status(token: str):
    upload = _own_upload(token)
    headers = _offset_headers(upload)
    headers["Upload-Metadata"] = metadata.encode({
        "filename": upload.filename, "filetype": upload.filetype, "candidate_id": str(upload.candidate_id),
        "interview_id": str(upload.interview_id) if upload.interview_id else None,
    })
    _refuse_unusable(upload, headers)
    response = jsonify({
        "state": upload.state,
        "offset": upload.received_bytes,
        "length": upload.size_bytes,
        "filename": upload.filename,
        "candidate_id": upload.candidate_id,
        "interview_id": upload.interview_id,
        "recording_id": upload.recording_id,
        "expires_at": cleanup.expires_at(upload).isoformat() + "Z",
    })
    response.headers.update(headers)
    return response


def append(token: str):
    if request.mimetype != OFFSET_STREAM:
        raise TusError(415, _("Send the bytes with Content-Type: %(type)s.", type=OFFSET_STREAM))
    offset = _number_header("Upload-Offset")
    if offset is None:
        raise TusError(400, _("Send the offset of these bytes in the Upload-Offset header."))
    checksum = _checksum_header()
    upload = _own_upload(token)
    _refuse_unusable(upload, _offset_headers(upload))
    if upload.state == "receiving":
        with _locked(parts.part_path(_settings()["data_dir"], upload.token)) as part:
            # Read again under the lock: the previous writer may have moved the offset.
            upload = m.Upload.get_or_none(m.Upload.id == upload.id)
            if upload is None:
                raise TusError(404, _("Not found."))
            _refuse_unusable(upload, _offset_headers(upload))
            if upload.state == "receiving":
                _receive(part, upload, offset, checksum)
                if upload.received_bytes == upload.size_bytes:
                    _complete(upload, part.path)
                return _appended(upload)
    # Complete already: a repeated final PATCH is answered again, so a client that lost the first
    # answer learns the outcome; any other offset or a non-empty body is refused as usual.
    if offset != upload.received_bytes:
        raise TusError(409, _("Upload-Offset %(sent)d does not match the %(held)d bytes received.", sent=offset,
                              held=upload.received_bytes), **_offset_headers(upload))
    if request.content_length:
        raise TusError(413, _("These bytes go beyond the length of the upload."), **_offset_headers(upload))
    return _appended(upload)


def _appended(upload: m.Upload):
    response = Response(status=204)
    response.headers.update(_offset_headers(upload))
    if upload.recording_id:
        response.headers[RECORDING_HEADER] = str(upload.recording_id)
    return response


def terminate(token: str):
    upload = _own_upload(token)
    if not cleanup.remove_upload(_settings()["data_dir"], upload):
        raise TusError(423, _("Bytes are still arriving for this upload; try again shortly."))
    return Response(status=204)


# --- receiving -----------------------------------------------------------------------------


def _receive(part: parts.PartFile, upload: m.Upload, offset: int, checksum) -> None:
    """Append the request body to the locked part file; upload.received_bytes follows the disk."""
    if offset != upload.received_bytes:
        raise TusError(409, _("Upload-Offset %(sent)d does not match the %(held)d bytes received.", sent=offset,
                              held=upload.received_bytes), **_offset_headers(upload))
    limit = _settings()["max_upload_bytes"]
    if upload.size_bytes > limit:  # the limit was lowered since the upload began
        raise TusError(413, _("The file is larger than the limit of %(limit)s.", limit=human_size(limit)))
    remaining = upload.size_bytes - offset
    if request.content_length is not None and request.content_length > remaining:
        raise TusError(413, _("These bytes go beyond the length of the upload."), **_offset_headers(upload))

    def durable(new_offset: int) -> None:
        now = m.utcnow()
        updated = (m.Upload.update(received_bytes=new_offset, updated_at=now)
                   .where((m.Upload.id == upload.id) & (m.Upload.state == "receiving")).execute())
        if not updated:
            raise UploadGone(upload.token)
        upload.received_bytes, upload.updated_at = new_offset, now

    try:
        with _idle_timeout(IDLE_TIMEOUT_SECONDS):
            part.receive(request.stream, offset, remaining, durable, checksum)
    except parts.BodyInterrupted:
        raise TusError(400, _("The connection broke off; resume from Upload-Offset."), **_offset_headers(upload)) from None
    except parts.TooLarge:
        raise TusError(413, _("These bytes go beyond the length of the upload."), **_offset_headers(upload)) from None
    except parts.ChecksumMismatch:
        raise TusError(460, _("The bytes do not match Upload-Checksum; send them again."), **_offset_headers(upload)) from None
    except UploadGone:
        raise TusError(404, _("Not found.")) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TusError(507, _("The server ran out of room for this file; try again later."), **_offset_headers(upload)) from None
        raise


def _complete(upload: m.Upload, path) -> None:
    try:
        completion.finish(current_app._get_current_object(), upload, path)
    except ValidationError as exc:
        raise TusError(422, str(exc)) from None
    except OSError as exc:
        # The bytes all arrived but storing them filled the disk (found by the disk-full drill:
        # it was a bare 500). The store removed its pieces and the part file is kept, so the
        # client repeats the final PATCH once there is room.
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TusError(507, _("The server ran out of room for this file; try again later."), **_offset_headers(upload)) from None
        raise


@contextmanager
def _locked(path):
    try:
        part = parts.PartFile(path).__enter__()
    except parts.PartBusy:
        raise TusError(423, _("Bytes are still arriving for this upload; try again shortly.")) from None
    except FileNotFoundError:
        raise TusError(410, _("This upload expired; start it again.")) from None
    try:
        yield part
    finally:
        part.__exit__(None, None, None)


@contextmanager
def _idle_timeout(seconds: float):
    # The WSGI servers we run under (gunicorn, werkzeug) expose the client socket; without a
    # timeout, a client that vanished silently would hold the upload's lock for hours.
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is None or not hasattr(sock, "settimeout"):
        yield
        return
    previous = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        try:
            sock.settimeout(previous)
        except OSError:  # the connection is already closed
            pass


# --- helpers -------------------------------------------------------------------------------


def _settings():
    return current_app.extensions["talentreel"].settings


def _own_upload(token: str) -> m.Upload:
    upload = access.own_upload(token, g.user)
    if upload is None:
        raise TusError(404, _("Not found."))
    return upload


def _refuse_unusable(upload: m.Upload, headers: dict) -> None:
    if upload.state == "failed":
        raise TusError(422, upload.error or _("The file was refused."), **headers)
    if upload.state == "receiving" and cleanup.expires_at(upload) <= m.utcnow():
        raise TusError(410, _("This upload expired; start it again."))


def _targets(meta: dict) -> tuple[m.Candidate, m.Interview | None]:
    if not meta.get("candidate_id"):
        raise TusError(400, _("Name the candidate in Upload-Metadata (candidate_id)."))
    candidate = access.visible(m.Candidate, access.parse_id(meta["candidate_id"]), "candidate", g.user)
    if candidate is None:
        raise TusError(404, _("No such candidate."))
    if not can(g.user, "recording.create", candidate):
        raise TusError(403, _("You may not add recordings for this candidate."))
    interview = None
    if meta.get("interview_id"):
        interview = access.visible(m.Interview, access.parse_id(meta["interview_id"]), "interview", g.user)
        if interview is None or interview.candidate_id != candidate.id:
            raise TusError(404, _("No such interview of this candidate."))
    return candidate, interview


def _offset_headers(upload: m.Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.received_bytes), "Upload-Length": str(upload.size_bytes)}
    if upload.state == "receiving":
        headers["Upload-Expires"] = http_date(cleanup.expires_at(upload))
    return headers


def _number_header(name: str) -> int | None:
    """A non-negative integer header; None when absent. 400 when present but not a number."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 19 or not raw.isascii():
        raise TusError(400, _("%(header)s must be a whole number of bytes.", header=name))
    return int(raw)


def _checksum_header() -> tuple[str, bytes] | None:
    raw = request.headers.get("Upload-Checksum")
    if raw is None:
        return None
    algorithm, _sep, encoded = raw.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusError(400, _("Upload-Checksum: use one of %(names)s.", names=", ".join(CHECKSUM_ALGORITHMS)))
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise TusError(400, _("Upload-Checksum: the digest is not base64.")) from None
    return algorithm, digest


def human_size(size: int) -> str:
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{size} bytes" if unit == 0 else f"{value:.3g} {units[unit]}"


# --- error answers -------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict | None = None):
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def _tus_error(exc: TusError):
    return _error(exc.status, exc.message, exc.headers)


def _http_error(exc):
    code = getattr(exc, "code", None) or 500
    messages = {
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The request is too large."),
        500: _("Something went wrong on the server; the error was logged."),
    }
    message = messages.get(code) or (exc.description if isinstance(exc, HTTPException) else messages[500])
    return _error(code, message)


def _database_down(exc):
    current_app.logger.error("database unavailable: %s", exc)
    return _error(503, _("The database is unavailable; try again shortly."))


browser_bp = make_blueprint("uploads", "/uploads", access.session_user, static=True)
api_bp = make_blueprint("api_uploads", "/api/v1/uploads", access.bearer_user,
                        challenge='Bearer realm="talentreel"', csrf_exempt=True)
