"""The job of the `migration` queue: execute one migration run in a worker.

Enqueued by `talentreel migrate` as ``talentreel.migrators.jobs.run_migration`` with the run's
id. Running it again (an RQ retry, the reconciler after a lost job, a worker killed midway)
resumes the run where it stopped: the journal makes every step idempotent.
"""

from __future__ import annotations

from talentreel.workers.base import get_app, job, report_progress

JOB = "talentreel.migrators.jobs.run_migration"
QUEUE = "migration"


@job
def run_migration(run_id: int) -> dict:
    from . import framework

    state = get_app().extensions["talentreel"]
    report = framework.execute(state, run_id, publish=report_progress)
    return {"run_id": run_id, "totals": report.get("totals"), "accounted": report.get("accounted")}
