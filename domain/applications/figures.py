"""Figures for the supervisors' dashboard and the REST API."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from domain.applications.stages import STAGES, TERMINAL
from storage.models import Application, utcnow


def stats(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Applications submitted in [since, until) by current stage; open and overdue now; and time-limit
    compliance of those closed in the window (closed on or before their due time)."""
    submitted = (Application.submitted_at >= since) & (Application.submitted_at < until)
    by_stage = {stage: 0 for stage in STAGES[1:]}
    for stage, count in session.execute(select(Application.stage, func.count()).where(submitted)
                                        .group_by(Application.stage)):
        by_stage[stage] = count
    open_now = Application.stage.not_in(TERMINAL | {"draft"})
    open_count = session.scalar(select(func.count()).select_from(Application).where(open_now)) or 0
    overdue = session.scalar(select(func.count()).select_from(Application).where(
        open_now, or_(Application.overdue.is_(True), Application.due_at <= utcnow()))) or 0
    closed_rows = session.execute(select(Application.closed_at, Application.due_at, Application.stage).where(
        Application.closed_at >= since, Application.closed_at < until,
        Application.stage.in_(("completed", "rejected")))).all()
    in_time = sum(1 for closed, due, _ in closed_rows if due is not None and closed <= due)
    return {
        "submitted": sum(by_stage.values()),
        "by_stage": by_stage,
        "open": open_count,
        "overdue": overdue,
        "closed": len(closed_rows),
        "closed_in_time": in_time,
        "compliance": (in_time / len(closed_rows)) if closed_rows else None,
    }
