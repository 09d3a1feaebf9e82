"""Background jobs: round trips through a real Redis and the embedded one, and the reconciler."""

from __future__ import annotations

import pytest
import redis as redis_lib

from conftest import REDIS_SERVER
from talentreel.server import embedded, jobs, models as m
from talentreel.server.errors import InstanceNotRunning, QueueUnavailable
from talentreel.workers.worker import run_worker

PRUNE = "talentreel.workers.maintenance.prune_sessions"
FAIL = "talentreel.workers.maintenance.no_such_job"


@pytest.fixture
def real_redis(settings):
    """A private database number on the machine's Redis, emptied before and after."""
    url = f"{REDIS_SERVER}/13"
    conn = redis_lib.Redis.from_url(url)
    try:
        conn.ping()
    except redis_lib.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_SERVER} is not reachable: {exc}")
    conn.flushdb()
    settings["redis_url"] = url
    yield conn
    conn.flushdb()


@pytest.fixture
def embedded_redis(settings):
    from talentreel.server.config import load_settings

    server = embedded.EmbeddedRedis(load_settings(dict(settings))).start()
    settings["redis_url"] = server.url
    yield redis_lib.Redis.from_url(server.url)
    server.stop()


def _round_trip(app, db):
    settings = app.extensions["talentreel"].settings
    old = m.LoginAttempt.create(username="x", ip="1.2.3.4", succeeded=False, at=m.utcnow().replace(year=2020))
    item = jobs.enqueue(settings, "maintenance", PRUNE)
    assert m.WorkItem.get_by_id(item.id).state == "pending"
    run_worker(app, ["maintenance"], burst=True)
    done = m.WorkItem.get_by_id(item.id)
    assert done.state == "done", done.error
    assert done.attempts == 1
    assert done.result["login_attempts"] == 1
    assert not m.LoginAttempt.select().where(m.LoginAttempt.id == old.id).exists()


@pytest.mark.redis
def test_job_round_trip_through_real_redis(real_redis, app, db):
    _round_trip(app, db)


def test_job_round_trip_through_embedded_redis(embedded_redis, app, db):
    _round_trip(app, db)


@pytest.mark.redis
def test_reconciler_requeues_work_redis_lost(real_redis, app, db):
    settings = app.extensions["talentreel"].settings
    items = [jobs.enqueue(settings, "maintenance", PRUNE) for _ in range(3)]
    real_redis.flushdb()  # Redis loses everything
    pushed = jobs.reconcile(settings, real_redis)
    assert sorted(pushed) == sorted(i.id for i in items)
    assert jobs.reconcile(settings, real_redis) == []  # queued now: nothing to do twice
    run_worker(app, ["maintenance"], burst=True)
    assert [m.WorkItem.get_by_id(i.id).state for i in items] == ["done"] * 3
    assert [m.WorkItem.get_by_id(i.id).attempts for i in items] == [1] * 3  # exactly once each


def test_enqueue_without_redis_keeps_the_work(app, db, settings):
    app_settings = app.extensions["talentreel"].settings
    assert not app_settings["redis_url"]
    item = jobs.enqueue(app_settings, "maintenance", PRUNE)  # no `up` running: nothing to push to
    assert m.WorkItem.get_by_id(item.id).state == "pending"


@pytest.mark.redis
def test_failing_job_is_retried_then_marked_failed(real_redis, app, db):
    settings = app.extensions["talentreel"].settings
    item = jobs.enqueue(settings, "maintenance", "talentreel.workers.maintenance.prune_sessions", "unexpected-argument")
    run_worker(app, ["maintenance"], burst=True)
    failed = m.WorkItem.get_by_id(item.id)
    assert failed.state == "failed"
    assert failed.attempts == jobs.MAX_ATTEMPTS
    assert "TypeError" in failed.error


def test_unknown_queue_is_refused(app, db):
    with pytest.raises(ValueError, match="unknown queue"):
        jobs.enqueue(app.extensions["talentreel"].settings, "nope", PRUNE)


def test_unreachable_redis_is_one_clear_error(settings):
    from talentreel.server.config import load_settings

    with pytest.raises(QueueUnavailable, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        jobs.connect(load_settings(dict(settings, redis_url="redis://127.0.0.1:1/0")))


def test_no_redis_configured_and_no_instance_running(settings):
    from talentreel.server.config import load_settings

    with pytest.raises(InstanceNotRunning, match="talentreel up"):
        jobs.connect(load_settings(dict(settings)))
