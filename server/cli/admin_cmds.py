"""Commands for IT admins: users, tokens, plugins, configuration, demo data."""

from __future__ import annotations

import sys

import click

from .. import models as m
from . import Instance, cli, emit, json_option, pass_instance


@cli.command()
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(m.ROLES), default=("hr",), show_default=True,
              help="Role to give; repeat for several.")
@click.option("--email")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--department", "departments", multiple=True, help="Department name (created if missing); repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@json_option
@pass_instance
def createuser(instance: Instance, username, roles, email, display_name, departments, password_stdin, as_json):
    """Create a user who signs in with a password."""
    from ..accounts import create_user, default_organisation

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        org = default_organisation()
        depts = [m.Department.get_or_create(organisation=org, name=name)[0] for name in departments]
        user = create_user(username, password, roles, display_name=display_name, email=email, organisation=org, departments=depts)
    emit({"id": user.id, "username": user.username, "roles": sorted(roles)}, as_json,
         f"user {user.username} created with role(s) {', '.join(sorted(roles))}")


@cli.group()
def token():
    """API tokens for integrations."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
@json_option
@pass_instance
def token_create(instance: Instance, username, name, as_json):
    """Create an API token for USERNAME; it is printed once."""
    from ..accounts import create_api_token
    from ..errors import NotFound

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        user = m.User.get_or_none(m.User.username == username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        row, secret = create_api_token(user, name)
    emit({"id": row.id, "user": username, "name": name, "token": secret}, as_json, secret)


@cli.command()
@json_option
@pass_instance
def plugins(instance: Instance, as_json):
    """List loaded plugins with their versions and hooks."""
    from ..plugins import describe_plugins

    rows = describe_plugins(instance.app(migrate=False).extensions["talentreel"].plugins)
    text = "\n".join(f"{r['name']:<24} {r['version'] or '-':<10} {r['source']:<12} {', '.join(r['hooks'])}" for r in rows)
    emit(rows, as_json, text)


@cli.command("config")
@json_option
@pass_instance
def show_config(instance: Instance, as_json):
    """Show the resolved settings (secrets hidden)."""
    from ..config import BY_NAME, load_settings

    values = {k: ("***" if BY_NAME[k].secret else v) for k, v in load_settings(instance.overrides).items()}
    emit(values, as_json, "\n".join(f"{k} = {v!r}" for k, v in values.items()))


@cli.command()
@click.option("--media", type=click.Path(exists=True, dir_okay=False), help="Recording to use for the demo replay "
              "(default: the project's fixture interview when present, else a generated clip).")
@click.option("--no-replay", is_flag=True, help="Skip the demo replay (no media processing).")
@json_option
@pass_instance
def demo(instance: Instance, media, no_replay, as_json):
    """Seed demo data: departments, one user per role (passwords printed), openings, candidates,
    and a ready replay of an interview."""
    from pathlib import Path

    from ..demo import seed, seed_replay

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        result = seed()
        if not no_replay:
            result["replay_recording_id"] = seed_replay(app, Path(media) if media else None)
    lines = ["Demo users (passwords are new on every run):"]
    lines += [f"  {u['role']:<12} {u['username']:<14} {u['password']}" for u in result["users"]]
    lines.append(f"{result['candidates']} candidates, {result['openings']} openings, {result['interviews']} interviews")
    if result.get("replay_recording_id"):
        lines.append(f"a ready replay: /recordings/{result['replay_recording_id']}")
    emit(result, as_json, "\n".join(lines))


@cli.group()
def audit():
    """The audit trail."""


@audit.command("verify")
@json_option
@pass_instance
def audit_verify(instance: Instance, as_json):
    """Check the audit trail's hash chain; exit 1 naming every edited or deleted event."""
    from .. import audit as audit_trail

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        problems = audit_trail.verify()
        count = m.AuditEvent.select().count()
    emit({"events": count, "problems": problems, "intact": not problems}, as_json,
         "\n".join(problems) if problems else f"audit trail intact ({count} events)")
    if problems:
        raise SystemExit(1)


@cli.group()
def user():
    """Accounts: first sign-in links for users without a password."""


@user.command("setup-link")
@click.argument("username")
@click.option("--base-url", help="Address users reach TalentReel at (default: http://HOST:PORT of the settings).")
@click.option("--hours", default=72, show_default=True, type=click.IntRange(1, 24 * 30), help="How long the link works.")
@json_option
@pass_instance
def user_setup_link(instance: Instance, username, base_url, hours, as_json):
    """Print a one-time link with which USERNAME (a migrated user, who has no password) sets one.
    A new link voids the user's earlier ones."""
    from ..auth import password_setup
    from ..errors import ValidationError

    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        account = m.User.get_or_none(m.User.username == username)
        if account is None:
            raise ValidationError(f"no user named '{username}'", field="username")
        token = password_setup.issue(account, hours=hours)
    settings = app.extensions["talentreel"].settings
    base = (base_url or f"http://{settings['host']}:{settings['port']}").rstrip("/")
    link = f"{base}/setup/password?token={token}"
    emit({"username": username, "link": link, "hours": hours}, as_json, link)
