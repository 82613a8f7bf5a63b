"""Timed work as rows: add, move or cancel a job inside the caller's transaction.

The runner that leases and runs them lives in bot/jobs.py; this is only the table's API, so
the domain can schedule a deadline without knowing who runs it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Job


def schedule(
    session: Session, kind: str, run_at: datetime, payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job, or move the pending one with the same ``dedupe_key`` to the new time."""
    if dedupe_key is not None:
        existing = session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).one_or_none()
        if existing is not None:
            existing.kind, existing.run_at, existing.payload = kind, run_at, dict(payload or {})
            existing.status, existing.attempts, existing.last_error = "pending", 0, None
            return existing
    job = Job(kind=kind, run_at=run_at, payload=dict(payload or {}), dedupe_key=dedupe_key)
    session.add(job)
    session.flush()
    return job


def cancel(session: Session, dedupe_key: str) -> bool:
    result = session.execute(
        update(Job).where(Job.dedupe_key == dedupe_key, Job.status == "pending").values(status="cancelled")
    )
    return bool(result.rowcount)
