"""The `talentreel` command.

Every command acts on one instance: the data directory named by --data (or TALENTREEL_DATA_DIR;
before the command's name or after it),
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

DATA_HELP = "Data directory of the instance (default ./talentreel-data)."


def _data_after_the_command(ctx, param, value):
    """`talentreel up --data DIR` means `talentreel --data DIR up`: people put the option after
    the command as often as before it. The instance's application is built lazily, when the
    command first asks for it, so the directory named here is still the one it opens."""
    if value:
        ctx.find_object(Instance).overrides["data_dir"] = value


def _take_data_after_the_name(command: click.Command) -> None:
    if not any("--data" in param.opts for param in command.params):  # the top group has its own
        command.params.append(click.Option(["--data"], type=click.Path(file_okay=False), expose_value=False,
                                           callback=_data_after_the_command, help=DATA_HELP))


class Command(click.Command):
    """A command that also takes --data after its name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _take_data_after_the_name(self)


class Group(click.Group):
    """The command groups (taking --data after their name too): their commands are Commands,
    their subgroups Groups."""

    command_class = Command
    group_class = type

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _take_data_after_the_name(self)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", "data_dir", envvar="TALENTREEL_DATA_DIR", type=click.Path(file_okay=False), help=DATA_HELP)
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
