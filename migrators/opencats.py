"""Built-in migrator `opencats`: the OpenCATS applicant-tracking system.

Two locations, one mapping: an OpenCATS backup file (the zip of its backup module, see
opencats_backup) or a live MySQL/MariaDB database (``mysql://...``, see opencats_live). Both give
tables of raw values (opencats_tables); this module turns them into canonical records:

- companies (``company``, ``client`` before 0.9) -> departments; job orders -> openings;
- users -> users, their access level -> roles (``role_map``); disabled accounts are rejected;
- candidates -> candidates; ``candidate_duplicates`` marks -> merges (with our dedup rules on top);
- ``key_skills`` -> skill tags; pipelines (``candidate_joborder``) -> applications with a status;
- activities about candidates -> notes; attachments of candidates -> documents, video ones ->
  recordings (through the media job like every migrated recording).

Only reads; the framework does the rest.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Iterator

from talentreel.server.errors import ValidationError
from talentreel.server.plugins import hookimpl

from . import inputs, opencats_backup, opencats_live
from . import records as r
from .opencats_tables import Table, Text, integer, meaningful
from .reader import Reader
from .reasons import Reason, Warn

KIND = "opencats"
VERSION = "1.0"

CANDIDATE_ITEM = 100  # data_item_type of candidates (200 companies, 300 contacts, 400 job orders)

PIPELINE_STATUS = {0: "applied", 100: "applied", 200: "screening", 250: "screening", 300: "screening", 400: "screening",
                   500: "interviewing", 600: "offered", 650: "rejected", 700: "rejected", 800: "hired"}
"""candidate_joborder.status (OpenCATS' candidate_joborder_status ids) -> application status."""

OPENING_STATUS = {"active": "open", "upcoming": "open", "lead": "open", "onhold": "open", "full": "closed",
                  "closed": "closed", "canceled": "closed", "cancelled": "closed"}

VIDEO_TYPES = re.compile(r"^video/", re.I)
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".flv", ".webm", ".mkv", ".avi", ".wmv", ".3gp", ".mpg", ".mpeg"}
SKILL_SEPARATORS = re.compile(r"[,;，；、\n|/]")
TAGS = re.compile(r"<[^>]+>")
CANDIDATE_FIELDS = ("first_name", "middle_name", "last_name", "phone_cell", "phone_home", "phone_work", "email1", "key_skills")
CJK = re.compile(r"[\u3400-\u9fff]")


@hookimpl
def talentreel_migrators():
    return [{"kind": KIND, "version": VERSION, "title": "OpenCATS (backup file or live MySQL/MariaDB database)",
             "reader": "talentreel.migrators.opencats:OpenCatsReader"}]


class OpenCatsReader(Reader):
    # Access levels (access_level.short_description) -> roles. OpenCATS lets every user who can sign
    # in see every candidate, which in TalentReel is HR's reach; administrators also run the system.
    role_map = {"Read": ("hr",), "Edit": ("hr",), "Delete": ("hr",), "SA": ("hr", "it_admin"),
                "Root": ("hr", "it_admin"), "Developer": ("it_admin",)}
    timezone = "UTC"  # OpenCATS stores server-local times; --timezone names the server's zone

    def __init__(self, location, options=None):
        super().__init__(location, options)
        self.location = str(location)
        self.live = opencats_live.is_url(self.location)
        if self.live:
            self.params = opencats_live.parse(self.location)
        else:
            path = self.location[len("file://"):] if self.location.startswith("file://") else self.location
            self.path = Path(path).expanduser().resolve()

    def check(self) -> None:
        if self.live:
            opencats_live.connect(self.params).close()
        elif not self.path.is_file():
            raise ValidationError(f"{self.path}: no such file (an OpenCATS backup is a .bak/.zip file, a live database a mysql:// URL)",
                                  field="location")
        elif not opencats_backup.is_backup(self.path):
            raise ValidationError(f"{self.path}: not an OpenCATS backup (a zip holding db/catsbackup.sql.0)", field="location")

    def _tables(self) -> dict[str, Table]:
        if self.live:
            return opencats_live.read_tables(self.params)
        try:
            return opencats_backup.read_tables(self.path)
        except opencats_backup.BackupError as exc:
            raise ValidationError(str(exc), field="location") from exc

    def read(self) -> Iterator:
        tables = self._tables()
        where_prefix = "" if self.live else "db/"
        out: list = []
        self.attachments = opencats_backup.attachment_names(self.path) if not self.live else None
        for name, mapper in (("access_level", None), ("company", self._companies), ("client", self._companies),
                             ("user", self._users), ("candidate", self._candidates), ("joborder", self._joborders),
                             ("candidate_joborder", self._pipelines), ("activity", self._activities),
                             ("attachment", self._attachments)):
            table = tables.get(name)
            if table is None or mapper is None:
                continue
            text = Text()
            rows = sorted(table.rows, key=lambda row: integer(row.get(table.columns[0])) or 0)
            for row in rows:
                out += mapper(row, text, tables, f"{where_prefix}{name}:{_id(row, table.columns[0])}")
            out.append(r.Notice("encoding", detail="+".join(sorted(text.encodings)) or "utf-8", where=name))
        return iter(out)

    # --- one mapper per table: a row -> records ------------------------------------------------

    def _companies(self, row, text, tables, where):
        id_column = "company_id" if "company_id" in row else "client_id"
        legacy_id = f"company:{_id(row, id_column)}"
        try:
            name = meaningful(text(row.get("name")))
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("department", legacy_id, Reason.UNKNOWN_ENCODING, f"name: {exc}", where)]
        return [r.Department(legacy_id, name or legacy_id, where=where)]

    def _users(self, row, text, tables, where):
        legacy_id = _id(row, "user_id")
        levels = {integer(x.get("access_level_id")): (x.get("short_description") or b"").decode("ascii", "replace")
                  for x in tables.get("access_level", Table("", [])).rows}
        level = integer(row.get("access_level"))
        try:
            username = meaningful(text(row.get("user_name")))
            first, last = meaningful(text(row.get("first_name"))), meaningful(text(row.get("last_name")))
            email = meaningful(text(row.get("email")))
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("user", legacy_id, Reason.UNKNOWN_ENCODING, str(exc), where)]
        if level == 0:
            return [r.Rejected("user", legacy_id, Reason.ACCOUNT_DISABLED, f"{username}: access level 0 (Disabled)", where)]
        role = levels.get(level, f"access level {level}")
        return [r.User(legacy_id, username or "", display_name=" ".join(x for x in (first, last) if x),
                       email=email if email and "@" in email else None, roles=(role,), where=where)]

    def _candidates(self, row, text, tables, where):
        legacy_id = _id(row, "candidate_id")
        out = []
        try:
            fields = {key: meaningful(value) for key, value in text.row(row, CANDIDATE_FIELDS).items()}
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("candidate", legacy_id, Reason.UNKNOWN_ENCODING, str(exc), where)]
        raw = b"\n".join(v for v in (row.get(k) for k in CANDIDATE_FIELDS) if isinstance(v, bytes))
        if _not_utf8(raw):
            out.append(r.Notice(Warn.GBK_TEXT, detail=", ".join(k for k in CANDIDATE_FIELDS if any(b > 0x7F for b in row.get(k) or b"")),
                                where=where, kind="candidate", legacy_id=legacy_id))
        created, problem = _date(row.get("date_created"), "candidate", legacy_id, "date_created", where)
        out += problem
        if created is None:  # the row's last change is the closest date the source knows
            created, _ = _date(row.get("date_modified"), "candidate", legacy_id, "date_modified", where)
        name = _full_name(fields["first_name"], fields["middle_name"], fields["last_name"])
        duplicates = tables.get("candidate_duplicates")
        duplicate_of = tuple(sorted({_id(d, "old_candidate_id") for d in duplicates.rows if _id(d, "new_candidate_id") == legacy_id}
                                    , key=lambda x: integer(x) or 0)) if duplicates else ()
        out.append(r.Candidate(legacy_id, name, phone=fields["phone_cell"] or fields["phone_home"] or fields["phone_work"],
                               email=fields["email1"], created_at=created, duplicate_of=duplicate_of, where=where))
        seen = set()
        for skill in SKILL_SEPARATORS.split(fields["key_skills"] or ""):
            skill = " ".join(skill.split())
            if skill and skill != "0" and skill.casefold() not in seen:
                seen.add(skill.casefold())
                out.append(r.Skill(f"{legacy_id}:{skill.casefold()}", legacy_id, skill, where=where))
        return out

    def _joborders(self, row, text, tables, where):
        legacy_id = _id(row, "joborder_id")
        company = _id(row, "company_id" if "company_id" in row else "client_id")
        try:
            title = meaningful(text(row.get("title"))) or ""
            status = (meaningful(text(row.get("status"))) or "").casefold()
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("opening", legacy_id, Reason.UNKNOWN_ENCODING, str(exc), where)]
        out = []
        if status not in OPENING_STATUS:
            out.append(r.Notice(Warn.UNKNOWN_STATUS, detail=status, where=where, kind="opening", legacy_id=legacy_id, field="status"))
        out.append(r.Opening(legacy_id, title, f"company:{company}", status=OPENING_STATUS.get(status, "open"), where=where))
        return out

    def _pipelines(self, row, text, tables, where):
        legacy_id = _id(row, "candidate_joborder_id")
        status = integer(row.get("status"))
        created, out = _date(row.get("date_created"), "application", legacy_id, "date_created", where)
        if status not in PIPELINE_STATUS:
            out.append(r.Notice(Warn.UNKNOWN_STATUS, detail=str(status), where=where, kind="application", legacy_id=legacy_id, field="status"))
        out.append(r.Application(legacy_id, _id(row, "candidate_id"), _id(row, "joborder_id"), created_at=created,
                                 status=PIPELINE_STATUS.get(status, "applied"), where=where))
        return out

    def _activities(self, row, text, tables, where):
        legacy_id = _id(row, "activity_id")
        if integer(row.get("data_item_type")) != CANDIDATE_ITEM:
            return [r.Rejected("note", legacy_id, Reason.NOT_A_CANDIDATE, f"data item type {_id(row, 'data_item_type')}", where)]
        types = {integer(x.get("activity_type_id")): (x.get("short_description") or b"").decode("utf-8", "replace")
                 for x in tables.get("activity_type", Table("", [])).rows}
        try:
            notes = meaningful(text(row.get("notes"))) or ""
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("note", legacy_id, Reason.UNKNOWN_ENCODING, str(exc), where)]
        created, out = _date(row.get("date_created"), "note", legacy_id, "date_created", where)
        kind = types.get(integer(row.get("type")))
        body = html.unescape(TAGS.sub("", notes)).strip()
        regarding = integer(row.get("joborder_id"))
        title = _joborder_title(tables, regarding) if regarding and regarding > 0 else None
        text_out = "".join([f"{kind}: " if kind else "", body, f" (regarding: {title})" if title else ""])
        author = integer(row.get("entered_by"))
        out.append(r.Note(legacy_id, _id(row, "data_item_id"), text_out if body else "", author=str(author) if author else None,
                          created_at=created, where=where))
        return out

    def _attachments(self, row, text, tables, where):
        legacy_id = _id(row, "attachment_id")
        try:
            name = meaningful(text(row.get("original_filename"))) or meaningful(text(row.get("stored_filename")))
            stored = meaningful(text(row.get("stored_filename")))
            directory = meaningful(text(row.get("directory_name")))
            content_type = meaningful(text(row.get("content_type")))
        except inputs.UnknownEncoding as exc:
            return [r.Rejected("document", legacy_id, Reason.UNKNOWN_ENCODING, str(exc), where)]
        video = bool(content_type and VIDEO_TYPES.match(content_type)) or Path(name or "").suffix.lower() in VIDEO_EXTENSIONS
        kind = "recording" if video else "document"
        if integer(row.get("data_item_type")) != CANDIDATE_ITEM:
            return [r.Rejected(kind, legacy_id, Reason.NOT_A_CANDIDATE, f"{name}: data item type {_id(row, 'data_item_type')}", where)]
        candidate = _id(row, "data_item_id")
        path, fetch = self._attachment_file(directory, stored)
        if video:
            return [r.Recording(legacy_id, candidate=candidate, path=path, fetch=fetch, original_name=name, where=where)]
        return [r.Document(legacy_id, candidate, path=path, fetch=fetch, name=name, content_type=content_type, where=where)]

    def _attachment_file(self, directory, stored):
        """(path, fetch) of an attachment: a path on disk for a live database (None if the folder
        was not given or lacks the file: reported as missing), a lazy extraction from the backup."""
        if not directory or not stored or "/" in directory or "/" in stored or directory.startswith("."):
            return None, None
        if self.live:
            folder = self.params["attachments"]
            return (folder / directory / stored if folder else None), None
        member = f"attachments/{directory}/{stored}"
        if member not in self.attachments:
            return None, None
        return None, lambda: opencats_backup.extract_attachment(self.path, member, self.workdir)


def _id(row, column) -> str:
    value = row.get(column)
    return (value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)).strip() if value is not None else ""


def _full_name(*parts) -> str:
    """Given names first, joined by spaces; Chinese names (family name in last_name) read family
    name first with no space, as they are written."""
    parts = [p for p in parts if p]
    if parts and all(CJK.match(p) for p in parts):
        return "".join(reversed(parts))
    return " ".join(parts)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _date(value, kind, legacy_id, column, where):
    """(datetime or None, [Notice]): an unreadable date (MySQL's zero date included) loses the
    date, not the row, and is listed."""
    text = value.decode("ascii", "replace").strip() if isinstance(value, bytes) else (value or "")
    if not text:
        return None, []
    try:
        if text.startswith("0000-00-00"):
            raise ValueError(text)
        return inputs.parse_datetime(text), []
    except ValueError:
        return None, [r.Notice(Warn.BAD_DATE, detail=text, where=where, kind=kind, legacy_id=legacy_id, field=column)]


def _joborder_title(tables, joborder_id: int) -> str | None:
    for row in tables.get("joborder", Table("", [])).rows:
        if integer(row.get("joborder_id")) == joborder_id:
            title = row.get("title")
            return title.decode("utf-8", "replace") if isinstance(title, bytes) else title
    return None
