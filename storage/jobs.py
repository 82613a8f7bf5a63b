"""Timed work as rows: add, move or cancel a job inside the caller's transaction.

The runner that leases and runs them lives in bot/jobs.py; this is only the table's API, so
the domain can schedule a deadline without knowing who runs it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Job, utcnow
from storage.repositories import upsert


def schedule(
    session: Session, kind: str, run_at: datetime, payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job, or (re)arm the one with the same ``dedupe_key`` for the new time, whatever its
    state. One atomic upsert, so two transactions arming the same key at once both succeed, and a
    run already under way is told it is stale (``locked_by`` cleared): the runner leaves the row
    pending and it runs again, so no wake-up is lost."""
    if dedupe_key is None:
        job = Job(kind=kind, run_at=run_at, payload=dict(payload or {}))
        session.add(job)
        session.flush()
        return job
    armed = {"kind": kind, "run_at": run_at, "payload": dict(payload or {}), "status": "pending", "attempts": 0,
             "last_error": None, "locked_by": None, "lease_until": None}
    upsert(session, Job, {**armed, "dedupe_key": dedupe_key, "created_at": utcnow()}, ["dedupe_key"], armed)
    return session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)
                           .execution_options(populate_existing=True)).one()


def cancel(session: Session, dedupe_key: str) -> bool:
    result = session.execute(
        update(Job).where(Job.dedupe_key == dedupe_key, Job.status == "pending").values(status="cancelled")
    )
    return bool(result.rowcount)
