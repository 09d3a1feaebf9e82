"""The migration framework on a generated legacy export (the format of ../shared/legacy-export/SPEC.md):
10 000 candidates (5 % of them a second time under another id, phone written differently) and
1 000 interviews with recordings. The recordings reuse the sample's seven valid clips (9 s FLVs,
four H.264/AAC to remux, three Sorenson Spark/MP3 to transcode), so the export stays small.

Figures, each with a reference measured in the same run:

- records per second of `framework.execute` (inline, the command's own process; media jobs queued
  but not run), against the reference: the same candidates inserted with peewee, one transaction
  each, which is the floor of a load that commits every record with its journal item;
- recordings per minute through the media jobs (`process_recording`, then `make_pictures`),
  remux and transcode, on a sample of the migrated recordings, against bare ffmpeg making the
  same MP4s;
- resume overhead: a run SIGKILLed halfway through its records (testkit's kill points, a real
  child process), then resumed, against one uninterrupted run of the same export.

    python benchmarks/run.py --only migration [--migration-scale 0.1]
    python benchmarks/migration.py --scale 0.05        # alone, small
"""

from __future__ import annotations

import csv
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from common import log

CANDIDATES, RECORDINGS = 10_000, 1_000
MEDIA_SAMPLE = 6  # recordings of each kind timed through the media job
SAMPLE = common.SHARED / "legacy-export" / "sample"
CLIPS = {"remux": ["I5001.flv", "I5003.flv", "I5005.flv", "I5007.flv"], "transcode": ["I5002.flv", "I5006.flv", "I5008.flv"]}
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
DEPARTMENTS = {"销售部": ["大客户经理", "销售代表"], "技术部": ["后端工程师", "测试工程师"], "市场部": ["数字营销专员"]}


def generate(folder: Path, candidates: int, recordings: int, seed: int = 7) -> dict:
    """A legacy export in `folder`; what it holds."""
    rng = random.Random(seed)
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for clips in CLIPS.values():
        for clip in clips:
            shutil.copyfile(SAMPLE / "videos" / clip, folder / "videos" / clip)
    shutil.copyfile(SAMPLE / "label_map.csv", folder / "label_map.csv")
    people, rows = [], []
    for n in range(candidates):
        if people and rng.random() < 0.05:  # the same person again, phone written another way
            name, phone, email, dept, title = rng.choice(people)
            phone = f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
        else:
            name = rng.choice(FAMILY) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            phone = f"13{rng.randint(0, 999_999_999):09d}"
            email = f"u{n}@example.com"
            dept = rng.choice(list(DEPARTMENTS))
            title = rng.choice(DEPARTMENTS[dept])
            people.append((name, phone, email, dept, title))
        created = f"2023/{rng.randint(1, 12)}/{rng.randint(1, 28)} {rng.randint(8, 18)}:{rng.randint(0, 59):02d}"
        rows.append([f"C{n:06d}", name, phone, email, dept, title, created])
    _write_gbk(folder / "candidates.csv", ["候选人编号", "姓名", "手机", "邮箱", "应聘部门", "应聘岗位", "创建时间"], rows)
    _write_gbk(folder / "users.csv", ["账号", "姓名", "角色", "部门"],
               [["hr_li", "李红", "HR", "人力资源部"], ["wang_manager", "王强", "部门负责人", "销售部"]])
    _write_gbk(folder / "acl.csv", ["账号", "候选人编号", "权限"], [])
    interviews, kinds = [], {"remux": 0, "transcode": 0}
    for n in range(recordings):
        kind = "remux" if n % 7 < 4 else "transcode"
        kinds[kind] += 1
        clip = CLIPS[kind][n % len(CLIPS[kind])]
        candidate = rows[rng.randrange(len(rows))]
        interviews.append([f"I{n:06d}", candidate[0], candidate[5], "2023-04-01 15:00", f"videos/{clip}", "", "hr_li"])
    _write_gbk(folder / "interviews.csv", ["面试编号", "候选人编号", "岗位", "面试时间", "录像文件", "报告文件", "面试官账号"], interviews)
    return {"candidates": candidates, "recordings": recordings, **{f"recordings_{k}": v for k, v in kinds.items()}}


def _write_gbk(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("gbk"))


def _fresh_settings(root: Path, name: str, database_url: str | None) -> dict:
    data = root / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    settings = {"data_dir": str(data), "log_level": "WARNING"}
    if database_url:
        settings["database_url"] = database_url
    return settings


def _reset_postgres(url: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


def _migrate_in_process(settings: dict, export: Path) -> tuple[float, dict, object]:
    from talentreel.migrators import framework
    from talentreel.server import create_app
    from talentreel.workers import base as worker_base

    app = create_app(settings)
    worker_base.set_app(app)
    state = app.extensions["talentreel"]
    with state.database.connection_context():
        started = time.perf_counter()
        run, _ = framework.start(state, "legacy-export", str(export), {"playback_sample": 0})
        report = framework.execute(state, run.id)
        seconds = time.perf_counter() - started
    return seconds, report, app


def _reference_inserts(settings: dict, count: int) -> float:
    """The floor: `count` candidates inserted with peewee, one transaction each."""
    from talentreel.server import create_app
    from talentreel.server import models as m
    from talentreel.server.accounts import default_organisation

    app = create_app(settings)
    database = app.extensions["talentreel"].database
    with database.connection_context():
        org = default_organisation()
        started = time.perf_counter()
        for n in range(count):
            with database.atomic():
                m.Candidate.create(organisation=org, name=f"floor {n}", phone=f"138{n:08d}", email=f"f{n}@example.com")
        return time.perf_counter() - started


def _media(app, export: Path, workdir: Path) -> dict:
    """Recordings per minute through the media jobs (video, then pictures), per kind, on a sample;
    bare ffmpeg alongside."""
    import media_vs_ffmpeg

    from talentreel.server import models as m
    from talentreel.workers.media import make_pictures, process_recording

    state = app.extensions["talentreel"]
    out = {}
    with state.database.connection_context():
        clip_of = {item.target_id: Path(item.data["record"]["path"]).name for item in m.MigrationItem.select().where(
            (m.MigrationItem.kind == "recording") & (m.MigrationItem.state == "created")).order_by(m.MigrationItem.id)}
        for kind, clips in CLIPS.items():
            chosen = [m.Recording.get_by_id(i) for i, clip in clip_of.items() if clip in clips][:MEDIA_SAMPLE]
            for recording in chosen:
                recording.clip = clip_of[recording.id]
            started = time.perf_counter()
            for recording in chosen:
                result = process_recording(recording.id)
                assert result["how"] == kind, result
                make_pictures(recording.id)  # the worker's whole work per recording: its next job
            job = time.perf_counter() - started
            started = time.perf_counter()
            for n, recording in enumerate(chosen):
                subprocess.run(media_vs_ffmpeg.bare_command(kind, export / "videos" / recording.clip, workdir / f"bare-{n}.mp4"),
                               check=True)
            bare = time.perf_counter() - started
            out[kind] = {"sample": len(chosen), "job_s": round(job, 2), "bare_s": round(bare, 2),
                         "per_minute": round(60 * len(chosen) / job, 1), "bare_per_minute": round(60 * len(chosen) / bare, 1),
                         "ratio": round(bare / job, 2)}
    return out


def _resume(root: Path, export: Path, database_url: str | None, items: int) -> dict:
    """One clean child run; then one killed halfway and its resumption. Both in child processes."""
    from talentreel.migrators import testkit

    def timed(settings, kill=None):
        started = time.perf_counter()
        child = testkit.run_child(settings, "legacy-export", str(export), options={"playback_sample": 0}, kill=kill, timeout=7200)
        return time.perf_counter() - started, child

    settings = _fresh_settings(root, "clean", database_url)
    if database_url:
        _reset_postgres(database_url)
    clean_s, child = timed(settings)
    assert child.returncode == 0, child.stderr[-2000:]
    settings = _fresh_settings(root, "resumed", database_url)
    if database_url:
        _reset_postgres(database_url)
    killed_s, child = timed(settings, kill=("items", items // 2))
    assert child.returncode == -9, f"the run was not killed: {child.returncode} {child.stderr[-1000:]}"
    resumed_s, child = timed(settings)
    assert child.returncode == 0, child.stderr[-2000:]
    return {"clean_s": round(clean_s, 1), "killed_after_items": items // 2, "killed_s": round(killed_s, 1),
            "resume_s": round(resumed_s, 1), "overhead": round((killed_s + resumed_s) / clean_s - 1, 3)}


def run(ctx) -> dict:
    scale = getattr(ctx, "migration_scale", None) or (0.02 if ctx.quick else 1.0)
    candidates, recordings = max(50, int(CANDIDATES * scale)), max(14, int(RECORDINGS * scale))
    root = Path(tempfile.mkdtemp(prefix="talentreel-bench-migration-", dir=ctx.workdir))
    export = root / "export"
    log(f"generating a legacy export of {candidates} candidates and {recordings} recordings")
    made = generate(export, candidates, recordings)
    database_url = ctx.database_url
    if database_url:
        _reset_postgres(database_url)
    log("migrating in-process")
    seconds, report, app = _migrate_in_process(_fresh_settings(root, "inline", database_url), export)
    records = sum(e["in_source"] for e in report["entities"].values())
    assert report["accounted"], "the report does not add up"
    log("media jobs on a sample")
    media = _media(app, export, root)
    # After the media sample: a second app binds the models to its own database.
    log("reference: bare inserts")
    floor_settings = _fresh_settings(root, "floor", database_url)
    if database_url:
        _reset_postgres(database_url)
    floor_s = _reference_inserts(floor_settings, candidates)
    log("resume after a kill halfway")
    resume = _resume(root, export, database_url, records)
    figures = {"scale": scale, **made, "records": records, "migrate_s": round(seconds, 1),
               "records_per_s": round(records / seconds, 1), "entities": {k: v["migrated"] for k, v in report["entities"].items() if v["in_source"]},
               "merged": report["entities"]["candidates"]["merged"], "media": media, "resume": resume}
    if floor_s:
        figures["floor_rows_per_s"] = round(candidates / floor_s, 1)
        figures["ratio_to_floor"] = round(figures["records_per_s"] / figures["floor_rows_per_s"], 3)
    if not ctx.keep:
        shutil.rmtree(root, ignore_errors=True)
    figures["targets"] = []
    return figures


def report(f: dict) -> list[str]:
    lines = [f"export: {f['candidates']} candidates ({f['merged']} merged as duplicates), {f['recordings']} recordings "
             f"({f['recordings_remux']} remux, {f['recordings_transcode']} transcode); scale {f['scale']}", "",
             "| measure | TalentReel | reference | ratio |", "|---|---|---|---|",
             f"| records/s (`framework.execute`, inline) | {f['records_per_s']} ({f['records']} records in {f['migrate_s']} s) | "
             f"{f.get('floor_rows_per_s', '-')} rows/s (peewee insert, one transaction each) | {f.get('ratio_to_floor', '-')} |"]
    for kind, m in f["media"].items():
        lines.append(f"| recordings/min, {kind} (media and pictures jobs, sample of {m['sample']}) | {m['per_minute']} | "
                     f"{m['bare_per_minute']} (bare ffmpeg, MP4 only) | {m['ratio']} |")
    r = f["resume"]
    lines.append(f"| resume after kill -9 at record {r['killed_after_items']} | {r['killed_s']} s + {r['resume_s']} s | "
                 f"{r['clean_s']} s (uninterrupted child run) | overhead {r['overhead']:+.1%} |")
    return lines


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 10k candidates / 1k recordings (--small: 0.05)")
    parser.add_argument("--small", action="store_true", help="scale 0.05")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    context = common.Context(database_url=args.database_url)
    context.migration_scale = 0.05 if args.small else args.scale
    try:
        print("\n".join(report(run(context))))
    finally:
        context.close()
    sys.exit(0)
