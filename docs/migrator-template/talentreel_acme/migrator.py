"""The reader: an ACME HR export (a folder with departments.csv, users.csv, candidates.csv and
notes.csv, UTF-8 or GBK) turned into TalentReel's canonical records. Everything else - dedup,
role and label mapping, loading, the journal, resume, the report, rollback - is the framework's."""

from __future__ import annotations

from pathlib import Path

from talentreel.migrators import records as r
from talentreel.migrators.inputs import clean, parse_datetime, read_csv
from talentreel.migrators.reader import Reader
from talentreel.migrators.reasons import Reason, Warn
from talentreel.server.errors import ValidationError

FILES = ("departments.csv", "users.csv", "candidates.csv", "notes.csv")


class AcmeReader(Reader):
    # ACME's roles and what they become; a user with any other role is rejected, never guessed.
    role_map = {"Recruiter": ("hr",), "Manager": ("dept_head",), "Panel": ("interviewer",)}
    timezone = "Asia/Shanghai"  # ACME writes local times without a zone

    def check(self) -> None:
        folder = Path(self.location)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ValidationError(f"{folder}: not an ACME HR export (missing {', '.join(missing)})", field="location")

    def read(self):
        folder = Path(self.location)
        for line, row in read_csv(folder / "departments.csv", ("id", "name")).rows:
            yield r.Department(legacy_id=row["id"], name=row["name"], where=f"departments.csv:{line}")
        for line, row in read_csv(folder / "users.csv", ("id", "login", "role")).rows:
            yield r.User(legacy_id=row["id"], username=row["login"], display_name=clean(row.get("name")) or "",
                         email=clean(row.get("email")), roles=(row["role"],),
                         departments=tuple(d for d in (clean(row.get("department")),) if d), where=f"users.csv:{line}")
        for line, row in read_csv(folder / "candidates.csv", ("id", "name")).rows:
            where = f"candidates.csv:{line}"
            if not clean(row["id"]):
                yield r.Rejected("candidate", None, Reason.MISSING_ID, where=where)
                continue
            created_at = None
            try:
                created_at = parse_datetime(clean(row.get("created")))
            except ValueError:  # kept without the date, and the report says so
                yield r.Notice(Warn.BAD_DATE, f"created {row.get('created')!r}", where=where, kind="candidate",
                               legacy_id=row["id"], field="created")
            yield r.Candidate(legacy_id=row["id"], name=row["name"], phone=clean(row.get("phone")),
                              email=clean(row.get("email")), created_at=created_at, where=where)
        for line, row in read_csv(folder / "notes.csv", ("id", "candidate", "text")).rows:
            try:
                created_at = parse_datetime(clean(row.get("created")))
            except ValueError:
                created_at = None
            yield r.Note(legacy_id=row["id"], candidate=row["candidate"], text=row["text"], created_at=created_at,
                         where=f"notes.csv:{line}")
