"""Run TalentReel's benchmarks and print their figures as ratios to a reference measured in the
same run: the Range endpoint against nginx, the media job against bare ffmpeg, and the server's
memory during a 2 GB upload.

    python benchmarks/run.py [--only range,media,upload] [--quick]

Needs nginx and wrk for the range benchmark (Debian: apt-get install -y nginx-light wrk); it says
what is missing and installs nothing. Inputs are made with TalentReel's ffmpeg and cached in
benchmarks/.cache/. The results also go to benchmarks/.cache/results-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

BENCHMARKS = {
    "range": ("range_vs_nginx", "Range endpoint vs nginx"),
    "media": ("media_vs_ffmpeg", "Media job vs bare ffmpeg"),
    "upload": ("upload_rss", "Server RSS during an upload"),
    "backup": ("backup_vs_copy", "Backup and verify vs cp and hashing"),
    "pool": ("talent_pool", "Talent pool search (tags, full text) on SQLite and PostgreSQL"),
    "migration": ("migration", "Migration of a generated legacy export"),
    "metrics": ("metrics_cost", "Monitoring cost: TTFB observation and a scrape"),
    "analysis": ("analysis_pipeline", "Analysis pipeline vs recording length and bare speech-to-text"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated: range,media,upload,backup,pool,migration,metrics,analysis (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs, fewer rounds, a 512 MiB upload: a smoke test, not figures")
    parser.add_argument("--database-url", help="database of the benchmark instance (default: SQLite in its temporary data directory)")
    parser.add_argument("--workers", type=int, help="gunicorn workers of the web server (default 2, as `talentreel web`)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker (default 4, as `talentreel web`; "
                                                     "another value serves through benchmarks/serve_app.py)")
    parser.add_argument("--migration-scale", type=float, help="size of the migration benchmark's export as a fraction of "
                                                             "10k candidates / 1k recordings (default 1, --quick 0.02)")
    parser.add_argument("--json", type=Path, help="where to write the results (default benchmarks/.cache/results-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data and work directories")
    parser.add_argument("--pool-scale", type=float, help="size of the generated talent pool, 1 = 100k candidates, 1M tags, "
                                                         "20k hours of transcript (default 1, or 0.01 with --quick)")
    parser.add_argument("--pool-databases", default="sqlite,postgresql", help="databases of the talent pool benchmark "
                                                                               "(default: sqlite,postgresql)")
    parser.add_argument("--pool-rounds", type=int, help="requests per query of the talent pool benchmark, through the API "
                                                        "and directly (default 200, or 10 with --quick)")
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown or not selected:
        parser.error(f"unknown benchmark(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(BENCHMARKS)}")

    modules = {name: __import__(BENCHMARKS[name][0]) for name in selected}
    if "range" in modules:
        missing = modules["range"].missing_tools()
        if missing:
            print(f"missing: {', '.join(missing)}. Install them (Debian: apt-get install -y nginx-light wrk) "
                  "or leave the range benchmark out (--only media,upload).", file=sys.stderr)
            return 2

    # Stopped with SIGTERM, unwind like Ctrl-C so the servers started here are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = dt.datetime.now(dt.timezone.utc)
    command = "python benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    results = {"date": started.isoformat(timespec="seconds"), "machine": common.machine(), "command": command.strip(),
               "ffmpeg": common.ffmpeg(), "quick": args.quick, "benchmarks": {}}
    ctx = common.Context(quick=args.quick, database_url=args.database_url, workers=args.workers, threads=args.threads, keep=args.keep)
    ctx.pool_scale = args.pool_scale
    ctx.migration_scale = args.migration_scale
    ctx.pool_rounds = args.pool_rounds
    ctx.pool_databases = tuple(d.strip() for d in args.pool_databases.split(",") if d.strip())
    try:
        for name, module in modules.items():
            common.log(f"== {BENCHMARKS[name][1]}")
            began = time.monotonic()
            results["benchmarks"][name] = module.run(ctx)
            results["benchmarks"][name]["wall_s"] = round(time.monotonic() - began, 1)
    finally:
        ctx.close()

    out = args.json or common.CACHE / f"results-{started:%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(render(results, modules))
    print(f"\n(results: {out})")
    return 0 if all(t["met"] for b in results["benchmarks"].values() for t in b.get("targets", [])) else 1


def render(results: dict, modules: dict) -> str:
    m = results["machine"]
    lines = [f"TalentReel benchmarks, {results['date']}{' (--quick)' if results['quick'] else ''}",
             f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, Linux {m['kernel']}; "
             "the servers, wrk and ffmpeg share these cores",
             f"command: {results['command']}"]
    for name, figures in results["benchmarks"].items():
        lines += ["", f"## {BENCHMARKS[name][1]}", ""] + modules[name].report(figures)
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for figures in results["benchmarks"].values():
        for target in figures.get("targets", []):
            lines.append(f"| {target['target']} | {target['value']} | {'yes' if target['met'] else 'NO'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
