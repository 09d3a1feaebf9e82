"""Commands for recordings: ingest."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .. import models as m
from ..errors import NotFound, ValidationError
from . import Instance, cli, emit, json_option, pass_instance

WAIT_POLL_SECONDS = 1.0


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--candidate", "candidate_name", required=True, help="Candidate's name (found or created).")
@click.option("--email", help="Candidate's e-mail, to tell namesakes apart.")
@click.option("--opening", "opening_id", type=int, help="Opening the interview was for.")
@click.option("--wait", is_flag=True, help="Wait until the recording is ready or failed.")
@click.option("--timeout", default=3600, show_default=True, help="Seconds --wait waits at most.")
@json_option
@pass_instance
def ingest(instance: Instance, path, candidate_name, email, opening_id, wait, timeout, as_json):
    """Add the recording at PATH for a candidate; the running instance's worker processes it."""
    from ..accounts import default_organisation
    from ..recordings import ingest_file

    app = instance.app()
    state = app.extensions["talentreel"]
    with state.database.connection_context():
        org = default_organisation()
        opening = None
        if opening_id is not None:
            opening = m.Opening.get_or_none((m.Opening.id == opening_id) & (m.Opening.organisation == org))
            if opening is None:
                raise NotFound(f"no opening with id {opening_id}")
        name = candidate_name.strip()
        if not name:
            raise ValidationError("--candidate: a name is required")
        query = m.Candidate.select().where((m.Candidate.organisation == org) & (m.Candidate.name == name))
        if email:
            query = query.where(m.Candidate.email == email.strip().lower())
        candidate = query.order_by(m.Candidate.id).first() or m.Candidate.create(
            organisation=org, name=name, email=email.strip().lower() if email else None)
        interview = None
        if opening is not None:
            m.Application.get_or_create(candidate=candidate, opening=opening)
            interview = m.Interview.get_or_create(candidate=candidate, opening=opening)[0]
        recording = ingest_file(state, path, candidate=candidate, interview=interview, original_name=path.name)
    result = {"recording_id": recording.id, "candidate_id": candidate.id, "state": recording.state}
    problem = _nothing_processes_it(state.settings)
    if problem:
        # Stored and its job recorded: a worker started later picks it up. Waiting for one that
        # is not there would only hang.
        click.echo(f"recording {recording.id} is stored, but {problem}", err=True)
        if wait:
            emit(result, as_json, f"recording {recording.id}: {result['state']}")
            raise SystemExit(1)
    if wait:
        deadline = time.monotonic() + timeout
        while True:
            with state.database.connection_context():
                recording = m.Recording.get_by_id(recording.id)
            if recording.state in ("ready", "failed") or time.monotonic() > deadline:
                break
            time.sleep(WAIT_POLL_SECONDS)
        result.update(state=recording.state, error=recording.error, how=(recording.media or {}).get("how"))
    text = f"recording {recording.id}: {result['state']}" + (f" ({result.get('how')})" if result.get("how") else "")
    if result.get("error"):
        text += f": {result['error']}"
    emit(result, as_json, text)
    if wait and result["state"] != "ready":
        raise SystemExit(1)


def _nothing_processes_it(settings) -> str | None:
    """Why no worker will process a queued recording now (no instance running, Redis down, no
    worker on the media queue), or None when one will."""
    from .. import jobs
    from ..errors import InstanceNotRunning, QueueUnavailable

    try:
        jobs.connect(settings)
    except (InstanceNotRunning, QueueUnavailable) as exc:
        return f"nothing will process it yet: {exc}. It is processed once the instance runs."
    if not jobs.worker_listening(settings, "media"):
        return "no worker is running on the media queue: it is processed once one starts (`talentreel up` or `talentreel worker`)."
    return None


@cli.command()
@click.argument("recording_id", type=int)
@click.option("--version", "version", type=int, help="A given report version (default: the latest).")
@json_option
@pass_instance
def report(instance: Instance, recording_id, version, as_json):
    """Print the analysis report of a recording."""
    app = instance.app()
    with app.extensions["talentreel"].database.connection_context():
        query = m.Report.select().where(m.Report.recording == recording_id)
        if version is not None:
            query = query.where(m.Report.version == version)
        row = query.order_by(m.Report.version.desc()).first()
        if row is None:
            raise NotFound(f"no report for recording {recording_id}" + (f" version {version}" if version else ""))
    data = dict(row.data, version=row.version)
    lines = [f"recording {recording_id}, report version {row.version} (schema {row.schema_version})"]
    for status in data.get("analysis", []):
        lines.append(f"  {status['name']:<20} {status['state']}" + (f": {status['reason']}" if status.get("reason") else ""))
    for question in data.get("questions", []):
        lines.append(f"Q{(question.get('index') or 0) + 1} {question.get('question') or ''}")
        lines.append(f"  {question.get('transcript', '')[:200]}")
        for moment in question.get("moments", []):
            lines.append(f"  {moment['start']:7.1f}-{moment['end']:7.1f}s {moment['kind']}: {moment['why']}")
    emit(data, as_json, "\n".join(lines))
