"""The `talentreel` command.

Every command acts on one instance: the data directory named by --data (or TALENTREEL_DATA_DIR),
with its config file, or the database and Redis named by the environment. Errors are one line on
stderr and exit status 2; commands that print results take --json.
"""

from __future__ import annotations

import json
import sys

import click

from ..errors import TalentReelError


class Instance:
    """Lazily built application for the command being run."""

    def __init__(self, overrides: dict):
        self.overrides = overrides
        self._app = None

    def app(self, migrate: bool = True):
        if self._app is None:
            from ..app import create_app

            self._app = create_app(self.overrides, migrate=migrate)
        return self._app

    @property
    def settings(self):
        return self.app().extensions["talentreel"].settings


pass_instance = click.make_pass_decorator(Instance)


def emit(data, as_json: bool, text: str | None = None) -> None:
    """Print a result: JSON for scripts, or the human text."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text if text is not None else data)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", "data_dir", envvar="TALENTREEL_DATA_DIR", type=click.Path(file_okay=False),
              help="Data directory of the instance (default ./talentreel-data).")
@click.version_option(package_name="talentreel")
@click.pass_context
def cli(ctx, data_dir):
    """TalentReel: recorded job interviews, replays with AI reports, a searchable talent pool."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    ctx.obj = Instance(overrides)


from . import admin_cmds, analysis_cmds, backup_cmds, keys_cmds, media_cmds, migrate_cmds, pool_cmds, privacy_cmds, run_cmds  # noqa: E402,F401  (register commands on `cli`)


def main(argv=None) -> None:
    try:
        status = cli.main(args=argv, prog_name="talentreel", standalone_mode=False)
        if isinstance(status, int) and status:
            sys.exit(status)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TalentReelError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
