"""The decrypting Range endpoint against nginx serving the same plaintext file.

The file is the MP4 the real media job makes of the ten-minute H.264 FLV. TalentReel serves it
from encrypted storage through /media/<token>/video.mp4 as players fetch it: from the media server
(`talentreel media-server`, what `talentreel up` runs and production deploys; SQLite, a media
token issued under an HR user's web session, whose cookie every request carries as a browser's
would). nginx serves the decrypted bytes of the same object from a directory with sendfile. For
comparison, two more: the web app's own media endpoint ("web": gunicorn as `talentreel web` runs
it, used when no media server is configured) and the "floor" (wsgi_floor.py: gunicorn with the
same workers and threads returning the plaintext range with no framework, database or
decryption), which shows what gunicorn itself costs per request. wrk (one thread: the machine has two cores, shared by wrk, the servers
and anything else running) drives all three with the same Lua script and seed (ranges.lua):
random 64 KiB ranges, random 1 MiB ranges, and the whole file.

Each case runs at two concurrencies: `load` (8 connections: request rate and throughput) and
`single` (one connection: the latency one player sees). Rounds rotate which server goes first;
the best round of each counts (the machine is shared: interference only ever slows a round).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import common
from common import MiB, log

TOOLS = ("nginx", "wrk")

CASES = (
    ("64KiB", 64 * 1024),
    ("1MiB", MiB),
    ("whole", 0),
)
"""(name, range size in bytes; 0 = the whole file without a Range header)."""

LOAD_CONNECTIONS = 8
"""Connections of the load runs: as many as `talentreel web`'s default 2 workers x 4 threads serve at once."""

TARGETS = {
    "64KiB": ("requests_per_s", 0.25),
    "1MiB": ("mb_per_s", 0.5),
    "whole": ("mb_per_s", 0.5),
}
"""Issue targets: TalentReel / nginx ratio of the figure, under load."""

P50_MARGIN_MS = 1.0
"""Target: TalentReel's median latency at most nginx's + this, on one connection."""

NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    # tcp_nopush stays off (nginx's default): with it, 206 answers on loopback stall ~40 ms each
    # on delayed ACKs (measured here: 49 req/s on one connection instead of 25,000).
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    types {{ video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            add_header Cache-Control "private, no-store";
        }}
    }}
}}
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]


def _nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx(root: Path, port: int, tmp: Path, workers: int) -> common.Server:
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    # Started as root, nginx's workers would switch to www-data; stay root to read the temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(workers=workers, tmp=tmp, user=user, port=port, root=root))
    return common.Server("nginx", [_nginx_binary(), "-c", str(conf), "-p", str(tmp)], port, tmp / "nginx.stdout")


def wrk(url: str, connections: int, seconds: float, range_size: int, file_size: int, seed: int = 1, cookie: str = "") -> dict:
    env = dict(os.environ, RANGE_SIZE=str(range_size), FILE_SIZE=str(file_size), RANGE_SEED=str(seed), COOKIE=cookie)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(common.HERE / "ranges.lua"), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    raw = json.loads(line[len("WRKJSON "):])
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "requests": raw["requests"],
        "requests_per_s": raw["requests"] / seconds_run,
        "mb_per_s": raw["bytes"] / seconds_run / 1e6,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "errors": errors,
        "error_kinds": {k: v for k, v in raw["errors"].items() if v},
        "command": " ".join(command[:-1] + ["URL"]),
    }


def _check_same_bytes(nginx_port: int, talentreel_port: int, media_path: str, size: int, cookie: str) -> None:
    """Both servers answer the same bytes for the same ranges, and the whole file alike."""
    rng = random.Random(7)
    checks = [None, (0, 0), (size - 1, size - 1)] + [(s, min(size - 1, s + n - 1)) for n in (64 * 1024, MiB)
                                                     for s in (rng.randrange(size), (rng.randrange(size) // n) * n)]
    for wanted in checks:
        headers = {"Cookie": cookie} if wanted is None else {"Cookie": cookie, "Range": f"bytes={wanted[0]}-{wanted[1]}"}
        a = common.get(nginx_port, "/video.mp4", headers)
        b = common.get(talentreel_port, media_path, headers)
        expected_status = 200 if wanted is None else 206
        if a[0] != expected_status or b[0] != expected_status or a[2] != b[2]:
            raise RuntimeError(f"servers disagree on {headers.get('Range', 'the whole file')}: nginx {a[0]} ({len(a[2])} bytes), "
                               f"TalentReel {b[0]} ({len(b[2])} bytes)")


def floor_server(path: Path, port: int, log_path: Path, workers: int, threads: int) -> common.Server:
    env = dict(os.environ, FLOOR_FILE=str(path), PYTHONPATH=str(common.HERE))
    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi_floor:app"]
    return common.Server("gunicorn floor", command, port, log_path, env=env)


SERVERS = ("nginx", "talentreel", "web", "floor")
"""talentreel: the media server, which the targets are about; web: the web app's endpoint."""


def run(ctx: common.Context) -> dict:
    missing = missing_tools()
    if missing:
        raise SystemExit(f"range benchmark needs {', '.join(missing)}: apt-get install -y nginx-light wrk")
    seconds = 3 if ctx.quick else 10
    rounds = 1 if ctx.quick else 3
    instance = ctx.instance
    recording_id = ctx.ready_recording(common.h264_flv())
    from talentreel.server.auth.sessions import COOKIE_NAME
    from talentreel.server.recordings import object_key

    root = ctx.workdir / "nginx-root"
    root.mkdir(parents=True, exist_ok=True)
    size = instance.plaintext(object_key(recording_id, "video.mp4"), root / "video.mp4")
    for path in (ctx.workdir, root):
        path.chmod(0o755)
    (root / "video.mp4").chmod(0o644)
    # As a browser plays it: a media token issued under a web session, whose cookie comes along.
    web_session_id, cookie_value = instance.web_session()
    token = instance.media_token(recording_id, web_session_id)
    cookie = f"{COOKIE_NAME}={cookie_value}"
    media_path = f"/media/{token}/video.mp4"
    log(f"range benchmark: video.mp4 of recording {recording_id}, {size} bytes ({size / MiB:.1f} MiB)")

    ports = {server: common.free_port() for server in SERVERS}
    workers, threads = ctx.workers or 2, ctx.threads or 4
    results: dict = {
        "file_bytes": size, "seconds_per_run": seconds, "rounds": rounds, "load_connections": LOAD_CONNECTIONS,
        "talentreel_server": f"talentreel media-server --workers {workers} (event loops, uvloop)",
        "web_server": (f"talentreel web --workers {workers} (gunicorn gthread, {workers} workers x 4 threads)" if ctx.threads is None
                              else f"serve_app.py (talentreel's gunicorn set-up, {workers} workers x {threads} threads)"),
        "nginx_server": f"nginx {workers} workers, sendfile", "floor_server": f"gunicorn gthread {workers} workers x {threads} threads, wsgi_floor.py",
        "database": instance.database_url.split(":")[0], "cookie": True, "load_before": os.getloadavg(), "cases": {},
    }
    with nginx(root, ports["nginx"], ctx.workdir / "nginx", workers), \
            common.talentreel_media(instance, ports["talentreel"], ctx.workdir / "talentreel-media.log", workers=workers), \
            common.talentreel_web(instance, ports["web"], ctx.workdir / "talentreel-web.log", workers=workers, threads=ctx.threads), \
            floor_server(root / "video.mp4", ports["floor"], ctx.workdir / "floor.log", workers, threads):
        _check_same_bytes(ports["nginx"], ports["talentreel"], media_path, size, cookie)
        _check_same_bytes(ports["nginx"], ports["web"], media_path, size, cookie)
        urls = {"nginx": f"http://127.0.0.1:{ports['nginx']}/video.mp4",
                "talentreel": f"http://127.0.0.1:{ports['talentreel']}{media_path}",
                "web": f"http://127.0.0.1:{ports['web']}{media_path}",
                "floor": f"http://127.0.0.1:{ports['floor']}/video.mp4"}
        for case, range_size in CASES:
            for mode, connections in (("load", LOAD_CONNECTIONS), ("single", 1)):
                best: dict = {}
                for round_index in range(rounds):
                    turn = round_index % len(SERVERS)
                    order = SERVERS[turn:] + SERVERS[:turn]  # each server goes first in turn
                    for server in order:
                        if round_index == 0:
                            wrk(urls[server], connections, 1, range_size, size, seed=99, cookie=cookie)  # warm-up
                        figures = wrk(urls[server], connections, seconds, range_size, size, seed=1 + round_index, cookie=cookie)
                        if figures["errors"]:
                            raise RuntimeError(f"{server} {case} {mode}: wrk counted errors {figures['error_kinds']}")
                        if server not in best or figures["requests_per_s"] > best[server]["requests_per_s"]:
                            best[server] = figures
                nx, tr, wb, fl = best["nginx"], best["talentreel"], best["web"], best["floor"]
                entry = {"connections": connections, "nginx": nx, "talentreel": tr, "web": wb, "floor": fl,
                         "web_ratio": wb["requests_per_s"] / nx["requests_per_s"],
                         "ratio_requests": tr["requests_per_s"] / nx["requests_per_s"],
                         "ratio_mb": tr["mb_per_s"] / nx["mb_per_s"],
                         "floor_ratio": fl["requests_per_s"] / nx["requests_per_s"],
                         "p50_delta_ms": tr["p50_ms"] - nx["p50_ms"]}
                results["cases"].setdefault(case, {})[mode] = entry
                log(f"  {case:>6} {mode:<6} nginx {nx['requests_per_s']:6.0f} req/s {nx['mb_per_s']:5.0f} MB/s p50 {nx['p50_ms']:.2f} ms | "
                    f"TalentReel {tr['requests_per_s']:5.0f} req/s {tr['mb_per_s']:5.0f} MB/s p50 {tr['p50_ms']:.2f} ms | "
                    f"ratio {entry['ratio_requests']:.2f} (web {entry['web_ratio']:.2f}, floor {entry['floor_ratio']:.2f})")
    results["load_after"] = os.getloadavg()
    results["targets"] = evaluate(results)
    return results


def evaluate(results: dict) -> list[dict]:
    verdicts = []
    for case, (figure, minimum) in TARGETS.items():
        ratio = results["cases"][case]["load"]["ratio_requests" if figure == "requests_per_s" else "ratio_mb"]
        what = "request rate" if figure == "requests_per_s" else "throughput"
        verdicts.append({"target": f"{case} ranges {what} >= {minimum}x nginx" if case != "whole" else f"whole file {what} >= {minimum}x nginx",
                         "value": f"{ratio:.2f}x", "met": ratio >= minimum})
    for case, _size in CASES:
        delta = results["cases"][case]["single"]["p50_delta_ms"]
        verdicts.append({"target": f"{case} p50 latency (1 connection) <= nginx + {P50_MARGIN_MS:g} ms",
                         "value": f"{delta:+.2f} ms", "met": delta <= P50_MARGIN_MS})
    return verdicts


def report(results: dict) -> list[str]:
    load = "/".join(f"{x:.1f}" for x in results["load_before"]) + " before, " + "/".join(f"{x:.1f}" for x in results["load_after"]) + " after"
    lines = [f"file: video.mp4 made by the media job from the 10-minute H.264 FLV, {results['file_bytes']} bytes; "
             f"TalentReel: {results['talentreel_server']}, {results['database']}, requests carry the web session cookie and a media token; "
             f"nginx: {results['nginx_server']}; web: {results['web_server']}; floor: {results['floor_server']}. "
             f"wrk 1 thread, {results['seconds_per_run']} s per run, best of {results['rounds']} alternating rounds; "
             f"load average (1/5/15 min) {load}.",
             "",
             "| case | conns | nginx req/s | TalentReel req/s | ratio | web req/s | web ratio | floor req/s | floor ratio | nginx MB/s | TalentReel MB/s | ratio | nginx p50 / p99 ms | TalentReel p50 / p99 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, _size in CASES:
        for mode in ("load", "single"):
            e = results["cases"][case][mode]
            nx, tr, wb, fl = e["nginx"], e["talentreel"], e["web"], e["floor"]
            lines.append(f"| {case} | {e['connections']} | {nx['requests_per_s']:.0f} | {tr['requests_per_s']:.0f} | {e['ratio_requests']:.2f} | "
                         f"{wb['requests_per_s']:.0f} | {e['web_ratio']:.2f} | "
                         f"{fl['requests_per_s']:.0f} | {e['floor_ratio']:.2f} | "
                         f"{nx['mb_per_s']:.0f} | {tr['mb_per_s']:.0f} | {e['ratio_mb']:.2f} | {nx['p50_ms']:.2f} / {nx['p99_ms']:.2f} | "
                         f"{tr['p50_ms']:.2f} / {tr['p99_ms']:.2f} |")
    return lines


def main() -> None:
    from run import main as run_main

    run_main(["--only", "range"])


if __name__ == "__main__":
    main()
