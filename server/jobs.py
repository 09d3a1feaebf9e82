"""Background work: the database records it, RQ on Redis carries it.

`enqueue()` writes a WorkItem row first and then pushes an RQ job named by the job function's
dotted path (so the web process never imports worker-only libraries). If Redis is down or later
loses the job, the item stays pending in the database and `reconcile()` pushes it again; job
functions are idempotent, so running one twice after a crash is safe.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from . import defaults
from . import models as m
from .errors import InstanceNotRunning, QueueUnavailable

log = logging.getLogger("talentreel.jobs")

RUNTIME_FILENAME = "instance.json"
RECONCILE_LOCK = "talentreel:reconcile-lock"
MAX_ATTEMPTS = defaults.JOB_RETRIES + 1


def runtime_file(settings) -> Path:
    return Path(settings["data_dir"], defaults.RUN_DIRNAME, RUNTIME_FILENAME)


def read_runtime(settings) -> dict | None:
    """What a running `talentreel up` wrote about itself (embedded Redis address, web URL)."""
    try:
        info = json.loads(runtime_file(settings).read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(info.get("pid", 0)), 0)  # a file left by a killed `up` describes nothing
    except (OSError, ValueError):
        return None
    return info


def redis_url(settings) -> str:
    if settings["redis_url"]:
        return settings["redis_url"]
    runtime = read_runtime(settings)
    if runtime and runtime.get("redis_url"):
        return runtime["redis_url"]
    raise InstanceNotRunning(
        f"no Redis: set redis_url (or REDIS_URL), or start `talentreel up --data {settings['data_dir']}` "
        "which runs the embedded one"
    )


def connect(settings, check: bool = True) -> redis.Redis:
    url = redis_url(settings)
    conn = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
    if check:
        try:
            conn.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise QueueUnavailable(f"cannot reach Redis at {url}: {exc}") from None
    return conn


def _push(item: m.WorkItem, conn: redis.Redis, settings) -> Job:
    queue = Queue(item.queue, connection=conn)
    retries_left = MAX_ATTEMPTS - 1 - item.attempts  # attempts already used survive a re-push
    return queue.enqueue_call(
        func=item.func,
        args=tuple(item.args or ()),
        job_id=item.rq_job_id,
        meta={"work_id": item.id},
        timeout=settings["job_timeout_seconds"],
        retry=Retry(max=retries_left) if retries_left > 0 else None,
        result_ttl=86400,
        failure_ttl=7 * 86400,
    )


def enqueue(settings, queue: str, func: str, *args: Any, conn: redis.Redis | None = None) -> m.WorkItem:
    """Record work in the database, then hand it to RQ. Returns the WorkItem.

    queue: one of defaults.QUEUES. func: dotted path of a job function in talentreel.workers (or a
    plugin's). args: ids and other JSON values only.
    """
    if queue not in defaults.QUEUES:
        raise ValueError(f"unknown queue {queue!r}; expected one of {', '.join(defaults.QUEUES)}")
    item = m.WorkItem.create(queue=queue, func=func, args=list(args))
    try:
        _push(item, conn or connect(settings), settings)
    except (QueueUnavailable, InstanceNotRunning, redis.RedisError) as exc:
        # Not lost: the reconciler pushes pending items once Redis is back.
        log.warning("work item %s recorded but not queued yet: %s", item.id, exc)
    return item


def reconcile(settings, conn: redis.Redis) -> list[int]:
    """Push again every pending or running item whose RQ job is gone or dead; return their ids.

    Takes a short Redis lock so that several workers reconciling at once do not push twice.
    """
    if not conn.set(RECONCILE_LOCK, "1", nx=True, ex=60):
        return []
    pushed = []
    try:
        for name in defaults.QUEUES:
            # Jobs of a worker that died (kill -9, machine lost) sit in "started" until their
            # deadline; cleanup moves the overdue ones to failed so they are pushed again below.
            StartedJobRegistry(name, connection=conn).cleanup()
        # Read to the end first: on SQLite a write made while this SELECT's cursor is still open
        # would upgrade its read snapshot, which fails at once ("database is locked", no busy wait)
        # when another process wrote meanwhile - a worker recording a finished job, say.
        waiting = list(m.WorkItem.select().where(m.WorkItem.state.in_(("pending", "running"))).order_by(m.WorkItem.id))
        for item in waiting:
            try:
                status = Job.fetch(item.rq_job_id, connection=conn).get_status(refresh=True)
            except NoSuchJobError:
                status = None
            if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
                continue  # alive in Redis: a worker has it or will
            if status == JobStatus.FINISHED:
                continue  # the job ran; its wrapper records the result
            if item.attempts >= MAX_ATTEMPTS:
                m.WorkItem.update(state="failed", error=item.error or "gave up after repeated lost or failed attempts", updated_at=m.utcnow()).where(m.WorkItem.id == item.id).execute()
                continue
            if status is not None:
                Job.fetch(item.rq_job_id, connection=conn).delete()  # failed/stopped/cancelled husk
            m.WorkItem.update(state="pending", updated_at=m.utcnow()).where(m.WorkItem.id == item.id).execute()
            _push(item, conn, settings)
            pushed.append(item.id)
    finally:
        conn.delete(RECONCILE_LOCK)
    if pushed:
        log.info("reconciler re-queued work items %s", pushed)
    return pushed


def queue_depths(conn: redis.Redis) -> dict[str, int]:
    return {name: Queue(name, connection=conn).count for name in defaults.QUEUES}


def worker_listening(settings, queue: str) -> bool:
    """Whether a worker is registered on `queue` in the instance's Redis (False when Redis, or
    the instance that runs it, cannot be reached): what a command that hands work to a worker
    asks before waiting for one."""
    from rq import Worker

    try:
        conn = connect(settings)
    except (QueueUnavailable, InstanceNotRunning):
        return False
    return any(queue in worker.queue_names() for worker in Worker.all(connection=conn))
