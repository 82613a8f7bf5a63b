"""Timed work (reminders, deadlines, idle timeouts) as rows, run once across all workers.

A job is leased before it runs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
single-writer lock on SQLite); a worker that dies mid-run lets the lease expire and
another takes the job. Jobs survive restarts because they are rows, not timers.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.workers import PollingWorker
from handlers.services import Services
from storage import counters
from storage.db import Database
from storage.models import Job, utcnow
from storage.repositories import KeyValueStore, insert_ignore, lock_for_update

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5

#: kind -> function(session, job, services). Its work is committed with the job's "done"; it may
#: commit earlier (before a slow call out), and a raise rolls back what it did not commit.
JobFunction = Callable[[Session, Job, Services], None]

#: The hourly job deleting expired key-value rows (one row, re-armed after each run).
KV_PURGE_JOB = "kv.purge"
KV_PURGE_EVERY = timedelta(hours=1)


def repeat(job: Job, every: timedelta) -> None:
    """Run this job again after ``every``: the runner leaves it pending instead of marking it done."""
    job.status, job.run_at, job.attempts, job.last_error = "pending", utcnow() + every, 0, None


#: The longest window a limit counter counts in (unknown login names; check codes at most).
COUNTER_MEMORY = timedelta(days=1)


def purge_expired_kv(session: Session, job: Job, services: Services) -> None:
    """Expired key-value rows, and limit counters past every window (one row per web chat session)."""
    deleted = KeyValueStore(session).purge_expired()
    counters_deleted = counters.purge(session, utcnow(), COUNTER_MEMORY)
    if deleted or counters_deleted:
        log.info("deleted %s expired key-value rows and %s old limit counters", deleted, counters_deleted)
    repeat(job, KV_PURGE_EVERY)


def schedule_kv_purge(db: Database) -> None:
    """Make sure the purge job exists and will run (at start, on every worker: one row whatever
    their number, revived if it had failed)."""
    with db.session() as session:
        now = utcnow()
        insert_ignore(session, Job, {"kind": KV_PURGE_JOB, "run_at": now, "payload": {}, "status": "pending",
                                     "attempts": 0, "dedupe_key": KV_PURGE_JOB, "created_at": now}, ["dedupe_key"])
        session.execute(update(Job).where(Job.dedupe_key == KV_PURGE_JOB,
                                          Job.status.in_(("done", "failed", "cancelled")))
                        .values(status="pending", run_at=now, attempts=0))


class JobRunner(PollingWorker):
    name = "job-runner"

    def __init__(self, services: Services, functions: dict[str, JobFunction], poll_seconds: float) -> None:
        super().__init__(poll_seconds)
        self.services = services
        self.functions = functions
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    async def step(self) -> int:
        return await asyncio.to_thread(self.run_due)

    def claim(self, limit: int = 10) -> list[int]:
        now = utcnow()
        db = self.services.db
        with db.session() as session:
            query = (
                select(Job)
                .where(
                    Job.kind.in_(list(self.functions)),
                    or_(
                        (Job.status == "pending") & (Job.run_at <= now),
                        (Job.status == "running") & (Job.lease_until < now),
                    ),
                )
                .order_by(Job.run_at)
                .limit(limit)
            )
            jobs = list(session.scalars(lock_for_update(session, query, skip_locked=True)))
            for job in jobs:
                job.status, job.locked_by, job.lease_until = "running", self.worker_id, now + LEASE
                job.attempts += 1
            return [job.id for job in jobs]

    def run_due(self) -> int:
        """Run every due job once; returns how many ran."""
        ids = self.claim()
        for done, job_id in enumerate(ids):
            if self.stopping:
                self._release(ids[done:])
                return done
            self._run_one(job_id)
        if ids:
            self.services.wake_outbox()
        return len(ids)

    def _release(self, ids: list[int]) -> None:
        """Shutdown: jobs claimed but not begun go back to pending at once, not after the lease."""
        with self.services.db.session() as session:
            session.execute(update(Job).where(Job.id.in_(ids), Job.locked_by == self.worker_id)
                            .values(status="pending", locked_by=None, lease_until=None, attempts=Job.attempts - 1))

    def _run_one(self, job_id: int) -> None:
        db = self.services.db
        try:
            # A plain session, not one transaction: a job that calls out (SMTP, a platform API) may
            # ``session.commit()`` first, so it holds no lock (SQLite's single writer) while it waits.
            with db.sessions() as session:
                job = session.get(Job, job_id)
                if job is None or job.status != "running" or job.locked_by != self.worker_id:
                    return
                self.functions[job.kind](session, job, self.services)
                if job.status == "running":  # not re-armed by ``repeat`` or ``schedule``
                    session.flush()
                    self._finish(session, job_id, status="done", done_at=utcnow())
                else:
                    job.lease_until = None
                session.commit()
        except Exception as exc:  # noqa: BLE001 - a failing job is retried, then marked failed
            log.exception("job %s failed", job_id)
            with db.session() as session:
                job = session.get(Job, job_id)
                if job is None:
                    return
                retry = job.attempts < MAX_ATTEMPTS
                self._finish(session, job_id, status="pending" if retry else "failed", last_error=repr(exc)[:2000],
                             run_at=utcnow() + timedelta(seconds=30 * 2 ** job.attempts) if retry else job.run_at)

    def _finish(self, session: Session, job_id: int, **values: object) -> None:
        """End this worker's run of a job, unless it was re-armed meanwhile (``schedule`` clears
        ``locked_by``): then the row stays as the re-arming left it and the job runs again."""
        session.execute(update(Job).where(Job.id == job_id, Job.status == "running", Job.locked_by == self.worker_id)
                        .values(lease_until=None, **values).execution_options(synchronize_session=False))
