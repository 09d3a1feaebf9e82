"""The web server of `talentreel web` with a chosen thread count, for trying worker/thread
counts: the same app factory and the same talentreel.server.cli.serve.serve (gunicorn, gthread),
configured from the environment like `talentreel web` (TALENTREEL_DATA_DIR, ...)."""

from __future__ import annotations

import argparse

from talentreel.server import create_app
from talentreel.server.cli.serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    serve(create_app(), args.host, args.port, workers=args.workers, threads=args.threads)


if __name__ == "__main__":
    main()
