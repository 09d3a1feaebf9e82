"""Demo data for trying TalentReel out: `talentreel demo`.

Running it again does not duplicate anything; it gives the demo users new passwords and prints
them, which doubles as a way back in for someone who lost them.
"""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import tempfile
from pathlib import Path

from . import models as m
from .accounts import create_user, default_organisation, set_password
from .analysis import consent

DEPARTMENTS = ("销售部", "技术部", "人力资源部")

USERS = (
    # username, role, display name, departments
    ("admin", "it_admin", "系统管理员 Admin", ()),
    ("hr", "hr", "人事 Li Na", ("人力资源部",)),
    ("sales_head", "dept_head", "销售总监 Wang Qiang", ("销售部",)),
    ("tech_head", "dept_head", "技术总监 Zhao Min", ("技术部",)),
    ("interviewer", "interviewer", "面试官 Chen Jie", ("技术部",)),
    ("candidate", "candidate", "Zhang Wei", ()),
)

OPENINGS = (
    ("大客户销售经理 Key Account Manager", "销售部"),
    ("海外市场专员 Overseas Marketing Specialist", "销售部"),
    ("后端工程师 Backend Engineer", "技术部"),
)

CANDIDATES = (
    # name, email, phone, opening index
    ("Zhang Wei", "zhang.wei@example.com", "+86 138 0000 0001", 0),
    ("刘洋", "liu.yang@example.com", "+86 139 0000 0002", 0),
    ("Sarah Miller", "sarah.miller@example.com", "+1 415 555 0103", 1),
    ("王芳", "wang.fang@example.com", "+86 137 0000 0004", 1),
    ("李强", "li.qiang@example.com", "+86 136 0000 0005", 2),
    ("Priya Nair", "priya.nair@example.com", "+91 98 0000 0006", 2),
    ("陈静", "chen.jing@example.com", "+86 135 0000 0007", 2),
    ("Tom Becker", "tom.becker@example.com", "+49 30 0000 0008", 0),
)

QUESTIONS = (
    "Tell us about a customer negotiation you led. / 请讲讲你主导过的一次客户谈判。",
    "How do you handle pressure from conflicting deadlines? / 你如何应对相互冲突的截止时间带来的压力？",
    "Describe a time you helped your team succeed. / 请描述一次你帮助团队取得成功的经历。",
)


def _password() -> str:
    return secrets.token_urlsafe(12)


DEMO_NOTICE = "demo-1"
"""The version of the (fictional) privacy notice the demo's candidates agreed to."""


def seed() -> dict:
    org = default_organisation()
    with m.Organisation._meta.database.atomic():
        depts = {name: m.Department.get_or_create(organisation=org, name=name)[0] for name in DEPARTMENTS}
        users = []
        by_name = {}
        for username, role, display, dept_names in USERS:
            password = _password()
            user = m.User.get_or_none(m.User.username == username)
            if user is None:
                user = create_user(username, password, (role,), display_name=display, organisation=org,
                                   departments=[depts[d] for d in dept_names], email=f"{username}@demo.talentreel.local")
            else:
                set_password(user, password)
            by_name[username] = user
            users.append({"role": role, "username": username, "password": password})

        openings = []
        for title, dept in OPENINGS:
            opening, _ = m.Opening.get_or_create(organisation=org, title=title, defaults={"department": depts[dept]})
            openings.append(opening)

        start = dt.datetime(2026, 12, 1, 9, 0)
        interviews = 0
        for i, (name, email, phone, opening_index) in enumerate(CANDIDATES):
            candidate, _ = m.Candidate.get_or_create(organisation=org, email=email, defaults={"name": name, "phone": phone})
            opening = openings[opening_index]
            m.Application.get_or_create(candidate=candidate, opening=opening)
            interview, _ = m.Interview.get_or_create(
                candidate=candidate, opening=opening,
                defaults={"scheduled_at": start + dt.timedelta(days=i, hours=i % 3), "questions": list(QUESTIONS)},
            )
            interviews += 1
            if not m.InterviewConsent.select().where(m.InterviewConsent.interview == interview).exists():
                # The demo's candidates agreed to the whole analysis under the demo's notice, as
                # real ones do before an interview (analysis refuses to run without it).
                consent.record(interview, by_name["hr"], DEMO_NOTICE, ai=True, vision_voice=True)
            if opening.department.name == "技术部" or i == 0:
                m.InterviewInterviewer.get_or_create(interview=interview, user=by_name["interviewer"])
        # The demo candidate account sees its own profile.
        m.Candidate.update(user=by_name["candidate"]).where((m.Candidate.email == CANDIDATES[0][1]) & (m.Candidate.organisation == org)).execute()

    return {
        "users": users,
        "departments": len(depts),
        "openings": len(openings),
        "candidates": len(CANDIDATES),
        "interviews": interviews,
    }


DEMO_CLIP_SECONDS = 20


def fixture_interview() -> Path | None:
    """The recorded fixture interview, when this is a checkout next to the project's shared/."""
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "interview_en" / "interview.mp4"
    return candidate if candidate.is_file() else None


def questions_asked_in(recording: Path) -> list[str]:
    """The interviewer's questions of a recorded fixture, from the truth.json beside it; [] for
    any other file."""
    truth = recording.parent / "truth.json"
    if not truth.is_file():
        return []
    import json

    segments = json.loads(truth.read_text(encoding="utf-8")).get("segments") or []
    return [s["text"] for s in segments if s.get("speaker") == "interviewer" and s.get("text")]


def make_demo_clip(target: Path) -> Path:
    """A short synthetic interview-like clip (test pattern and a tone) made with the bundled ffmpeg,
    for installations without the fixture interview."""
    from .media.ffmpeg import ffmpeg_executable

    subprocess.run([ffmpeg_executable(), "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={DEMO_CLIP_SECONDS}",
                    "-f", "lavfi", "-i", f"sine=frequency=220:duration={DEMO_CLIP_SECONDS}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    "-movflags", "+faststart", str(target)], check=True, capture_output=True)
    return target


def seed_replay(app, media: Path | None = None) -> int:
    """Give the first demo candidate a ready replay; return the recording id (made once)."""
    from ..workers import base as worker_base
    from ..workers.media import make_pictures, process_recording
    from .recordings import ingest_file

    state = app.extensions["talentreel"]
    existing = m.Recording.get_or_none(m.Recording.source_ref == "demo:interview")
    if existing is not None and existing.state == "ready":
        return existing.id
    candidate = m.Candidate.get(m.Candidate.email == CANDIDATES[0][1])
    interview = m.Interview.select().where(m.Interview.candidate == candidate).first()
    with tempfile.TemporaryDirectory() as tmp:
        source = media or fixture_interview() or make_demo_clip(Path(tmp) / "demo.mp4")
        asked = questions_asked_in(Path(source))
        if asked and interview is not None:
            # The report attaches answers to the interview's question list: it must be the list
            # of questions this recording asks, or every answer stays unanswered.
            interview.questions = asked
            interview.save()
        recording = existing or ingest_file(state, Path(source), candidate=candidate, interview=interview,
                                            original_name=Path(source).name, source_ref="demo:interview", enqueue=False)
    worker_base.set_app(app)
    process_recording(recording.id)  # here and now: the demo should show a replay at once
    make_pictures(recording.id)  # and its poster and sprite (the job it queued redoes them, idempotently)
    return recording.id
