"""Commands that run TalentReel: init, up (everything embedded), web, worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click

from .. import defaults
from . import Instance, cli, emit, json_option, pass_instance


def _print_bootstrap(app, base_url: str) -> None:
    from ..bootstrap import setup_message, setup_token_if_needed

    with app.extensions["talentreel"].database.connection_context():
        token = setup_token_if_needed()
    if token:
        click.secho(setup_message(token, base_url), fg="yellow")


@cli.command()
@json_option
@pass_instance
def init(instance: Instance, as_json):
    """Create the data directory and database schema (idempotent)."""
    from .. import schema

    app = instance.app()
    database = app.extensions["talentreel"].database
    with database.connection_context():
        versions = sorted(v for v in schema.applied_versions(database))
    emit({"data_dir": instance.settings["data_dir"], "schema_versions": versions}, as_json,
         f"instance ready in {instance.settings['data_dir']} (schema version {versions[-1]})")
    if not as_json:
        _print_bootstrap(app, f"http://{instance.settings['host']}:{instance.settings['port']}")


@cli.command()
@click.option("--port", type=int, help=f"Port to listen on (default {defaults.PORT}).")
@click.option("--host", help=f"Address to bind (default {defaults.HOST}).")
@pass_instance
def up(instance: Instance, port, host):
    """Run everything on this machine: database, embedded Redis, a worker and the web server."""
    from .. import embedded
    from ..config import load_settings

    overrides = dict(instance.overrides)
    if port:
        overrides["port"] = port
    if host:
        overrides["host"] = host
    settings = load_settings(overrides)
    lock = embedded.InstanceLock(settings).acquire()  # before touching anything of the instance
    redis_server = None
    worker = media_server = None
    try:
        if not settings["media_url"]:
            # Players fetch media from the media server `up` starts, on the host they reached the UI by.
            overrides["media_url"] = f"http://{{host}}:{settings['media_port']}"
        instance.overrides = overrides
        from ...monitoring import multiprocess

        multiprocess.prepare(settings)  # before the app exists: its metrics must live in the shared directory
        app = instance.app()
        settings = app.extensions["talentreel"].settings
        url = f"http://{settings['host']}:{settings['port']}"
        env = dict(os.environ, TALENTREEL_DATA_DIR=settings["data_dir"])
        if not settings["redis_url"]:
            redis_server = embedded.EmbeddedRedis(settings).start()
            env["TALENTREEL_REDIS_URL"] = redis_server.url
        embedded.write_runtime(settings, redis_url=redis_server.url if redis_server else settings["redis_url"], web_url=url)
        # Own session: Ctrl-C reaches only `up`, which then stops web, worker and Redis in that order.
        worker = subprocess.Popen([sys.executable, "-m", "talentreel.server.cli", "--data", settings["data_dir"], "worker"],
                                  env=env, start_new_session=True)
        media_server = subprocess.Popen([sys.executable, "-m", "talentreel.server.cli", "--data", settings["data_dir"],
                                         "media-server", "--host", settings["media_host"], "--port", str(settings["media_port"])],
                                        env=env, start_new_session=True)
        _print_bootstrap(app, url)

        def ready():
            if media_server.poll() is not None:
                click.secho(f"the media server did not start (is port {settings['media_port']} free?); replays cannot play", fg="red", err=True)
            click.echo(f"TalentReel is up at {url}  (data: {settings['data_dir']}; Ctrl-C stops)")

        from .serve import serve

        serve(app, settings["host"], settings["port"], workers=1, threads=8, on_ready=ready)
    finally:
        if media_server is not None:
            _stop_process_group(media_server, grace=10)
        if worker is not None:
            _stop_process_group(worker)
        if redis_server is not None:
            redis_server.stop()
        embedded.clear_runtime(settings)
        lock.release()


def _stop_process_group(process: subprocess.Popen, grace: float = 30) -> None:
    """Warm-stop a worker (it finishes its current job), then make sure nothing of it is left:
    RQ forks a scheduler and work horses, which share the worker's process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@cli.command()
@click.option("--port", type=int)
@click.option("--host")
@click.option("--workers", type=int, help="gunicorn worker processes (default: the web_workers setting).")
@pass_instance
def web(instance: Instance, port, host, workers):
    """Run only the web server (production: several of these behind a proxy)."""
    if port:
        instance.overrides["port"] = port
    if host:
        instance.overrides["host"] = host
    from ..config import load_settings
    from ...monitoring import multiprocess

    multiprocess.prepare(load_settings(instance.overrides))  # before the app exists (see monitoring/multiprocess.py)
    app = instance.app()
    settings = app.extensions["talentreel"].settings
    _print_bootstrap(app, f"http://{settings['host']}:{settings['port']}")
    from .serve import serve

    serve(app, settings["host"], settings["port"], workers=workers or settings["web_workers"], threads=4)


@cli.command("media-server")
@click.option("--port", type=int, help="Port to listen on (default: the media_port setting, the web port + 1).")
@click.option("--host", help="Address to bind (default: the media_host setting).")
@click.option("--workers", type=int, help="Processes (default: the media_workers setting).")
@pass_instance
def media_server(instance: Instance, port, host, workers):
    """Serve recordings' media to players (Range requests, decrypting); see docs/recordings.md."""
    if port:
        instance.overrides["media_port"] = port
    if host:
        instance.overrides["media_host"] = host
    app = instance.app(migrate=False)
    settings = app.extensions["talentreel"].settings
    from ..playback import edge

    try:
        edge.run(app, settings["media_host"], settings["media_port"], workers or settings["media_workers"],
                 on_ready=lambda: click.echo(f"media server at http://{settings['media_host']}:{settings['media_port']}"))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings['media_host']}:{settings['media_port']}: {exc.strerror}") from None


@cli.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@pass_instance
def worker(instance: Instance, queues, burst):
    """Run a background worker on QUEUES (default: all, in priority order)."""
    unknown = [q for q in queues if q not in defaults.QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; expected {', '.join(defaults.QUEUES)}", param_hint="QUEUES")
    from ...workers.worker import run_worker

    app = instance.app(migrate=False)
    run_worker(app, queues or defaults.QUEUES, burst=burst)
