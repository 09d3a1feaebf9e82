"""Calibration of an organisation's thresholds from reviewers' verdicts, and re-analysis when an
analyzer's version changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis as redis_lib

from conftest import REDIS_SERVER
from talentreel.plugins import analyzer_voice
from talentreel.server import models as m
from talentreel.server.accounts import default_organisation
from talentreel.server.analysis import consent
from talentreel.server.analysis import report as report_mod
from talentreel.server.analysis.contract import AnalysisInput
from talentreel.server.review import calibration, feedback
from talentreel.workers import base as worker_base
from talentreel.workers.analysis import enqueue_outdated, outdated_recordings, reanalyse_outdated
from talentreel.workers.calibration import calibratable, calibrate_organisation_now
from talentreel.workers.worker import run_worker

from test_review import analysed_recording

REDIS_DB = 5  # this area's Redis database in the shared test Redis


@pytest.fixture
def redis_settings(settings):
    settings["redis_url"] = f"{REDIS_SERVER}/{REDIS_DB}"
    conn = redis_lib.Redis.from_url(settings["redis_url"])
    conn.flushdb()
    yield settings
    conn.flushdb()


HESITATIONS = [(2.1, False), (2.2, False), (2.4, False), (3.0, True), (3.5, True), (4.0, True)]
"""(seconds of silence, the reviewer's verdict): short pauses were judged not to be hesitations."""


def judged_recording(org, reviewer) -> m.Recording:
    candidate = m.Candidate.create(organisation=org, name="Grace Hopper")
    recording = m.Recording.create(candidate=candidate, state="ready", duration_seconds=120.0)
    inp = AnalysisInput(recording_id=recording.id, audio_path=None, video_path=None, duration=120.0)
    inp.parts = {"voice": {"events": [{"kind": "hesitation", "start": 10.0 * (i + 1), "end": 10.0 * (i + 1) + length,
                                        "why": f"{length} s of silence"} for i, (length, _ok) in enumerate(HESITATIONS)]}}
    report = report_mod.save(recording, report_mod.assemble(recording, inp, {}))
    for i, (_length, right) in enumerate(HESITATIONS):
        feedback.mark(recording, report, reviewer, f"voice:{i}", right)
    return recording


def test_calibration_tunes_the_hesitation_threshold_from_verdicts(app, db, make_user):
    org = default_organisation()
    recording = judged_recording(org, make_user("ivy", roles=("interviewer",)))
    assert calibratable(app)["voice.hesitation_min_seconds"] == {"kinds": ["hesitation"], "default": 2.0}

    run = calibrate_organisation_now(app, org.id)
    key = "voice.hesitation_min_seconds"
    assert run.before[key] == 2.0 and run.agreement_before[key] == 0.5  # every cue shown, half of them wrong
    assert 2.4 < run.after[key] <= 3.0 and run.agreement_after[key] == 1.0
    assert run.details[key]["changed"] is True and run.details[key]["verdicts"] == 6
    # Too few verdicts on the other thresholds: left alone, and the run says why.
    assert run.after["voice.before_answer_min_seconds"] == 2.0
    assert "at least 5" in run.details["voice.before_answer_min_seconds"]["why"]

    # The analyzers read the organisation's calibrated thresholds.
    assert consent.thresholds(m.Recording.get_by_id(recording.id)) == {key: run.after[key]}
    # Calibrating again from the same verdicts changes nothing.
    again = calibrate_organisation_now(app, org.id)
    assert again.before[key] == again.after[key] == run.after[key] and again.details[key]["changed"] is False


def test_best_threshold_keeps_the_current_value_on_a_tie():
    assert calibration.best_threshold([(2.5, True), (3.0, True)], 2.0) == 2.0
    assert calibration.best_threshold([(2.5, False), (3.0, False)], 2.0) == 3.01  # every such cue judged wrong


def test_calibration_job_runs_on_a_worker_and_hr_sees_it(redis_settings, app, db, make_user, client, login):
    from talentreel.server import jobs

    org = default_organisation()
    judged_recording(org, make_user("ivy", roles=("interviewer",)))
    worker_base.set_app(app)
    jobs.enqueue(app.extensions["talentreel"].settings, "maintenance", "talentreel.workers.calibration.calibrate_organisation", org.id)
    run_worker(app, ["maintenance"], burst=True)
    row = m.Calibration.get(m.Calibration.organisation == org)
    assert row.agreement_after["voice.hesitation_min_seconds"] == 1.0

    hr = make_user("hr", roles=("hr",))
    login(hr)
    page = client.get("/calibration").get_data(as_text=True)
    assert "voice.hesitation_min_seconds" in page and "50%" in page and "100%" in page
    login_ivy = client.application.test_client()
    assert login_ivy.get("/calibration").status_code == 302  # signed out: to the sign-in page


def test_calibrate_command(app, db, make_user, data_dir, database_url):
    org = default_organisation()
    judged_recording(org, make_user("ivy", roles=("interviewer",)))
    db.close()
    result = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), "calibrate", "--json"],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, TALENTREEL_DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)["calibrations"][0]
    assert run["agreement_before"]["voice.hesitation_min_seconds"] == 0.5
    assert run["agreement_after"]["voice.hesitation_min_seconds"] == 1.0


def test_reanalysis_when_an_analyzer_version_changes(redis_settings, app, db, monkeypatch):
    worker_base.set_app(app)
    org = default_organisation()
    recording = analysed_recording(org)  # its report was made by voice version 1
    assert outdated_recordings(app) == []

    monkeypatch.setattr(analyzer_voice, "VERSION", "2")
    assert outdated_recordings(app) == [(recording.id, {"voice": ["1", "2"]})]
    assert enqueue_outdated(app) == [recording.id]
    assert enqueue_outdated(app) == []  # one analysis waiting is enough: no duplicate job
    assert reanalyse_outdated() == {"queued": []}
    items = list(m.WorkItem.select().where(m.WorkItem.func == "talentreel.workers.analysis.analyze_recording"))
    assert [(i.queue, i.args, i.state) for i in items] == [("analysis", [recording.id], "pending")]
    queued = redis_lib.Redis.from_url(redis_settings["redis_url"]).llen("rq:queue:analysis")
    assert queued == 1

    # Once a report by the new version exists, the recording is up to date again.
    data = dict(report_mod.latest(recording).data, analyzers={"voice": "2"})
    report_mod.save(recording, data)
    assert outdated_recordings(app) == []


def test_reanalyse_command_queues_reports_of_older_analyzers_once(app, db, data_dir, database_url):
    recording = analysed_recording(default_organisation())
    data = dict(report_mod.latest(recording).data, analyzers={"voice": "0"})  # as an older release wrote it
    report_mod.save(recording, data)
    db.close()

    def reanalyse() -> dict:
        result = subprocess.run([sys.executable, "-m", "talentreel.server.cli", "--data", str(data_dir), "reanalyse", "--json"],
                                capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, TALENTREEL_DATABASE_URL=database_url))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first = reanalyse()
    assert first["outdated"] == {str(recording.id): {"voice": ["0", analyzer_voice.VERSION]}}
    assert first["queued"] == [recording.id]
    assert reanalyse()["queued"] == []  # the analysis queued first is still waiting
