"""Built-in migrator `legacy-export`: the folder export of older interview/HR systems.

Format (see the export's SPEC.md): GBK CSV files `candidates.csv`, `interviews.csv`, `users.csv`,
`acl.csv`; FLV recordings under `videos/`; XML reports under `reports/`; the customer's
`label_map.csv`. This module only reads: each row becomes a canonical record (or a Rejected /
Notice saying why not); departments and openings are derived from the candidates' 应聘部门 /
应聘岗位. The framework does the rest.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from talentreel.server.errors import ValidationError
from talentreel.server.plugins import hookimpl

from . import inputs
from . import records as r
from .reader import Reader
from .reasons import Reason, Warn

KIND = "legacy-export"
VERSION = "1.0"

CANDIDATES, INTERVIEWS, USERS, ACL, LABEL_MAP = "candidates.csv", "interviews.csv", "users.csv", "acl.csv", "label_map.csv"
REPORTS_DIR = "reports"

PERMISSIONS = {"view": "view", "edit": "edit", "查看": "view", "编辑": "edit", "read": "view", "write": "edit"}
ROLE_SEPARATORS = re.compile(r"[、/;；,，|]")


@hookimpl
def talentreel_migrators():
    return [{"kind": KIND, "version": VERSION, "title": "Legacy interview-system export (folder of GBK CSV, FLV, XML)",
             "reader": "talentreel.migrators.legacy_export:LegacyExportReader"}]


class LegacyExportReader(Reader):
    role_map = {"HR": ("hr",), "部门负责人": ("dept_head",), "面试官": ("interviewer",)}
    timezone = "+08:00"  # the exporting systems ran on China time

    def __init__(self, location, options=None):
        super().__init__(location, options)
        location = str(location)
        self.root = Path(location[len("file://"):] if location.startswith("file://") else location).expanduser().resolve()

    def check(self) -> None:
        if not self.root.is_dir():
            raise ValidationError(f"{self.root}: not a folder (a legacy export is a folder)", field="location")
        if not (self.root / CANDIDATES).is_file():
            raise ValidationError(f"{self.root}: no {CANDIDATES}; not a legacy export", field="location")

    def label_map_path(self) -> Path | None:
        path = self.root / LABEL_MAP
        return path if path.is_file() else None

    # --- reading ----------------------------------------------------------------------------

    def _table(self, name: str, required: tuple[str, ...]):
        """The rows of one CSV file, or a Rejected for the whole file; its encoding as a Notice."""
        path = self.root / name
        if not path.is_file():
            return None, [r.Notice("missing file", detail=f"{name} is not in the export", where=name)]
        try:
            table = inputs.read_csv(path, required)
        except inputs.UnknownEncoding as exc:
            return None, [r.Rejected("file", name, Reason.UNKNOWN_ENCODING, str(exc), where=name)]
        except ValueError as exc:
            return None, [r.Rejected("file", name, Reason.BAD_ROW, str(exc), where=name)]
        except OSError as exc:
            return None, [r.Rejected("file", name, Reason.FILE_UNREADABLE, f"{exc.strerror or exc}", where=name)]
        return table, [r.Notice("encoding", detail=table.encoding, where=name)]

    def _date(self, value, kind, legacy_id, column, where):
        try:
            return inputs.parse_datetime(value), None
        except ValueError:
            return None, r.Notice(Warn.BAD_DATE, detail=value, where=where, kind=kind, legacy_id=legacy_id, field=column)

    def read(self) -> Iterator:
        departments: dict[str, str] = {}  # name -> where first seen
        openings: dict[str, r.Opening] = {}
        candidate_opening: dict[str, str] = {}  # candidate id -> opening legacy id
        out: list = []

        def department(name: str, where: str) -> str:
            departments.setdefault(name, where)
            return name

        # candidates: departments, openings and applications come from their 应聘部门 / 应聘岗位
        table, notes = self._table(CANDIDATES, ("候选人编号", "姓名"))
        out += notes
        for line, row in table.rows if table else ():
            where = f"{CANDIDATES}:{line}"
            legacy_id = inputs.clean(row.get("候选人编号"))
            if not legacy_id:
                out.append(r.Rejected("candidate", None, Reason.MISSING_ID, ",".join(row.values()), where))
                continue
            created, problem = self._date(row.get("创建时间"), "candidate", legacy_id, "创建时间", where)
            if problem:
                out.append(problem)
            out.append(r.Candidate(legacy_id, inputs.clean(row.get("姓名")) or "", phone=inputs.clean(row.get("手机")),
                                   email=inputs.clean(row.get("邮箱")), created_at=created, where=where))
            dept, title = inputs.clean(row.get("应聘部门")), inputs.clean(row.get("应聘岗位"))
            if dept and title:
                key = f"{dept}/{title}"
                openings.setdefault(key, r.Opening(key, title, department(dept, where), where=where))
                candidate_opening[legacy_id] = key
                out.append(r.Application(legacy_id, legacy_id, key, created_at=created, where=where))
            elif dept:
                department(dept, where)

        # users and their departments
        table, notes = self._table(USERS, ("账号", "角色"))
        out += notes
        for line, row in table.rows if table else ():
            where = f"{USERS}:{line}"
            account = inputs.clean(row.get("账号"))
            if not account:
                out.append(r.Rejected("user", None, Reason.MISSING_ID, ",".join(row.values()), where))
                continue
            roles = tuple(x.strip() for x in ROLE_SEPARATORS.split(row.get("角色") or "") if x.strip())
            dept = inputs.clean(row.get("部门"))
            out.append(r.User(account, account, display_name=inputs.clean(row.get("姓名")) or "", roles=roles,
                              departments=(department(dept, where),) if dept else (), where=where))

        # explicit grants
        table, notes = self._table(ACL, ("账号", "候选人编号", "权限"))
        out += notes
        for line, row in table.rows if table else ():
            where = f"{ACL}:{line}"
            account, candidate = inputs.clean(row.get("账号")), inputs.clean(row.get("候选人编号"))
            permission = inputs.clean(row.get("权限")) or "view"
            if not account or not candidate:
                out.append(r.Rejected("grant", None, Reason.MISSING_ID, ",".join(row.values()), where))
                continue
            out.append(r.Grant(f"{account}/{candidate}/{permission}", account, candidate,
                               PERMISSIONS.get(permission.lower(), permission), where=where))

        # interviews, with their recording and report
        titles: dict[str, set[str]] = {}
        for key, opening in openings.items():
            titles.setdefault(opening.title, set()).add(key)
        referenced_reports: set[Path] = set()
        table, notes = self._table(INTERVIEWS, ("面试编号", "候选人编号"))
        out += notes
        for line, row in table.rows if table else ():
            where = f"{INTERVIEWS}:{line}"
            legacy_id = inputs.clean(row.get("面试编号"))
            if not legacy_id:
                out.append(r.Rejected("interview", None, Reason.MISSING_ID, ",".join(row.values()), where))
                continue
            candidate = inputs.clean(row.get("候选人编号")) or ""
            scheduled, problem = self._date(row.get("面试时间"), "interview", legacy_id, "面试时间", where)
            if problem:
                out.append(problem)
            opening = self._opening_of(candidate, inputs.clean(row.get("岗位")), candidate_opening, openings, titles)
            if inputs.clean(row.get("岗位")) and opening is None:
                out.append(r.Notice(Warn.UNKNOWN_OPENING, detail=row.get("岗位"), where=where, kind="interview",
                                    legacy_id=legacy_id, field="岗位"))
            interviewer = inputs.clean(row.get("面试官账号"))
            out.append(r.Interview(legacy_id, candidate, opening=opening, scheduled_at=scheduled,
                                   interviewers=(interviewer,) if interviewer else (), where=where))
            video = inputs.clean(row.get("录像文件"))
            path = self._inside(video)
            # A path named but absent is kept: the framework reports it as a missing video.
            out.append(r.Recording(legacy_id, interview=legacy_id, candidate=candidate, path=path,
                                   original_name=Path(video).name if video else None, where=where))
            report = inputs.clean(row.get("报告文件"))
            if report:
                report_path = self._inside(report)
                if report_path is not None:
                    referenced_reports.add(report_path)
                out.append(self._report(report_path, legacy_id, where, report))

        # report files no interview row names: reports of interviews that may not exist
        reports_dir = self.root / REPORTS_DIR
        if reports_dir.is_dir():
            for path in sorted(reports_dir.glob("*.xml")):
                if path.resolve() not in referenced_reports:
                    out.append(self._report(path.resolve(), None, f"{REPORTS_DIR}/{path.name}", f"{REPORTS_DIR}/{path.name}"))

        for name, where in departments.items():
            out.append(r.Department(name, name, where=where))
        out += openings.values()
        return iter(out)

    def _inside(self, relative: str | None) -> Path | None:
        """A path the export names, if it stays inside the export (no ../ or absolute escapes)."""
        if not relative:
            return None
        path = (self.root / relative.replace("\\", "/")).resolve()
        try:
            path.relative_to(self.root)
        except ValueError:
            return None
        return path

    @staticmethod
    def _opening_of(candidate, title, candidate_opening, openings, titles) -> str | None:
        key = candidate_opening.get(candidate)
        if key and (not title or openings[key].title == title):
            return key
        if title and len(titles.get(title, ())) == 1:
            return next(iter(titles[title]))
        return key if not title else None

    def _report(self, path: Path | None, interview: str | None, where: str, named: str):
        legacy_id = interview or Path(named).stem
        if path is None or not path.is_file():
            return r.Rejected("report", legacy_id, Reason.REPORT_MISSING, named, where)
        try:
            root = _parse_xml(path.read_bytes(), path.name)
        except (ET.ParseError, inputs.UnknownEncoding, OSError) as exc:
            return r.Rejected("report", legacy_id, Reason.REPORT_UNREADABLE, f"{named}: {exc}", where)
        if root.tag != "report":
            return r.Rejected("report", legacy_id, Reason.REPORT_UNREADABLE, f"{named}: root element is <{root.tag}>, not <report>", where)
        interview = interview or inputs.clean(root.get("interview_id")) or legacy_id
        labels, moments = [], []
        for element in root.iter("label"):
            labels.append(r.LabelScore((element.get("name") or "").strip(), _number(element.get("score"))))
        for element in root.iter("moment"):
            start, end = _number(element.get("start")), _number(element.get("end"))
            nan = float("nan")  # a moment without times is kept for the framework to report
            start, end = (nan if start is None else start), (nan if end is None else end)
            moments.append(r.Moment(start, end, (element.get("label") or "").strip() or None))
        comment = root.findtext("comment")
        return r.Report(legacy_id, interview=interview, labels=tuple(labels),
                        moments=tuple(moments), comment=comment.strip() if comment else None,
                        legacy_version=root.get("version"), where=where)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return float("nan")  # kept as a value the framework reports as unreadable


def _parse_xml(data: bytes, name: str) -> ET.Element:
    """XML in UTF-8 as declared, or in GBK (which expat cannot decode itself)."""
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        text = inputs.decode(data, name).text
        return ET.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
