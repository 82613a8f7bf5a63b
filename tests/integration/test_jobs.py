"""The job runner: due jobs run once across workers, retry, and survive restarts."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from bot.jobs import JobRunner
from storage.jobs import cancel, schedule
from storage.models import Job, utcnow
from storage.repositories import is_postgres


def test_due_job_runs_once_and_future_job_waits(runtime):
    ran: list[int] = []
    runner = JobRunner(runtime.services, {"ping": lambda s, job, services: ran.append(job.payload["n"])}, 1)
    with runtime.services.db.session() as s:
        schedule(s, "ping", utcnow() - timedelta(seconds=1), {"n": 1})
        schedule(s, "ping", utcnow() + timedelta(hours=1), {"n": 2})
    assert runner.run_due() == 1 and runner.run_due() == 0
    assert ran == [1]


def test_failing_job_is_retried_then_marked_failed(runtime):
    def boom(s, job, services):
        raise ValueError("smtp down")

    runner = JobRunner(runtime.services, {"boom": boom}, 1)
    with runtime.services.db.session() as s:
        job_id = schedule(s, "boom", utcnow()).id
    for _ in range(5):
        runner.run_due()
        with runtime.services.db.session() as s:
            job = s.get(Job, job_id)
            job.run_at = utcnow()  # skip the backoff wait
    with runtime.services.db.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and "smtp down" in job.last_error and job.attempts == 5


def test_dedupe_key_moves_the_pending_job_and_cancel_stops_it(runtime):
    with runtime.services.db.session() as s:
        schedule(s, "remind", utcnow() + timedelta(days=1), dedupe_key="remind:1")
        schedule(s, "remind", utcnow() + timedelta(days=2), dedupe_key="remind:1")
        assert len(list(s.scalars(select(Job)))) == 1
        assert cancel(s, "remind:1")
    runner = JobRunner(runtime.services, {"remind": lambda *a: None}, 1)
    assert runner.run_due() == 0


def test_two_workers_run_each_job_once(runtime):
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def count(s, job, services):
        with lock:
            counts[job.id] = counts.get(job.id, 0) + 1

    with runtime.services.db.session() as s:
        for _ in range(30):
            schedule(s, "count", utcnow())
    runners = [JobRunner(runtime.services, {"count": count}, 1) for _ in range(2)]
    runners[1].worker_id += "-b"

    def work(runner):
        while runner.run_due():
            pass

    threads = [threading.Thread(target=work, args=(r,)) for r in runners]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(counts) == 30 and set(counts.values()) == {1}


def test_expired_lease_is_taken_over(runtime):
    """A worker that died mid-job leaves a running job with an old lease; another runs it."""
    ran: list[int] = []
    with runtime.services.db.session() as s:
        job = schedule(s, "ping", utcnow())
        job.status, job.locked_by, job.lease_until = "running", "dead-worker", utcnow() - timedelta(seconds=1)
    runner = JobRunner(runtime.services, {"ping": lambda s, job, services: ran.append(job.id)}, 1)
    assert runner.run_due() == 1 and len(ran) == 1


def test_a_job_re_armed_while_it_runs_runs_again(runtime):
    """The lost wake-up: capacity frees up (another transaction arms the balance job) while the
    job is already running on the old state; the run must not mark the new arming done."""
    runs: list[int] = []

    def arm():
        with runtime.services.db.session() as other:
            schedule(other, "balance", utcnow(), dedupe_key="balance")

    request = threading.Thread(target=arm)

    def balance(s, job, services):
        runs.append(job.id)
        if len(runs) == 1:
            request.start()
            if is_postgres(s):  # it commits mid-run; SQLite's one writer makes it wait for the run instead
                request.join()

    runner = JobRunner(runtime.services, {"balance": balance}, 1)
    with runtime.services.db.session() as s:
        schedule(s, "balance", utcnow(), dedupe_key="balance")
    assert runner.run_due() == 1
    request.join()
    with runtime.services.db.session() as s:
        assert s.scalars(select(Job.status)).one() == "pending"
    assert runner.run_due() == 1 and runner.run_due() == 0
    assert len(runs) == 2


def test_a_job_that_re_arms_itself_stays_armed(runtime):
    """A job that finds work it cannot do now (a busy row) arms its own key for later."""
    later = utcnow() + timedelta(minutes=5)
    runner = JobRunner(runtime.services, {"balance": lambda s, job, services: schedule(
        s, "balance", later, dedupe_key="balance")}, 1)
    with runtime.services.db.session() as s:
        schedule(s, "balance", utcnow(), dedupe_key="balance")
    assert runner.run_due() == 1
    with runtime.services.db.session() as s:
        job = s.scalars(select(Job)).one()
        assert job.status == "pending" and job.locked_by is None and abs((job.run_at - later).total_seconds()) < 1


def test_arming_one_key_from_many_transactions_at_once_succeeds(runtime):
    """Two closes at the same moment both arm the balance job: one row, neither request fails."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def arm():
        try:
            with runtime.services.db.session() as s:
                barrier.wait()
                schedule(s, "balance", utcnow(), dedupe_key="balance")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=arm) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with runtime.services.db.session() as s:
        assert len(list(s.scalars(select(Job)))) == 1
