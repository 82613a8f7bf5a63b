"""Complaint figures for the supervisors' dashboard and the REST API."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.complaints.deadlines import overdue_filter
from domain.complaints.lifecycle import STATUSES
from domain.complaints.tickets import CATEGORIES
from storage.models import Complaint, ComplaintEvent, StaffUser


def stats(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Complaint figures for the supervisors' dashboard: complaints received in [since, until)
    by category and stage, how fast and how well they were handled, and what is overdue now."""
    in_period = (Complaint.created_at >= since) & (Complaint.created_at < until)
    by_category = dict(session.execute(
        select(Complaint.category, func.count()).where(in_period).group_by(Complaint.category)).all())
    by_status = dict(session.execute(
        select(Complaint.status, func.count()).where(in_period).group_by(Complaint.status)).all())
    resolved = session.execute(
        select(Complaint.created_at, Complaint.resolved_at, Complaint.closed_at)
        .where(in_period, Complaint.resolved_at.is_not(None))).all()
    hours = [(r.resolved_at - r.created_at).total_seconds() / 3600 for r in resolved]
    event_in_period = (ComplaintEvent.created_at >= since) & (ComplaintEvent.created_at < until)
    events = dict(session.execute(
        select(ComplaintEvent.action, func.count()).where(event_in_period).group_by(ComplaintEvent.action)).all())
    answers = dict(session.execute(
        select(ComplaintEvent.action, func.count())
        .where(event_in_period, ComplaintEvent.actor == "customer", ComplaintEvent.action.in_(("close", "reopen")))
        .group_by(ComplaintEvent.action)).all())
    asked = answers.get("close", 0) + answers.get("reopen", 0)
    responsible = session.execute(
        select(StaffUser.id, StaffUser.display_name, func.count())
        .join(Complaint, Complaint.responsible_staff_id == StaffUser.id)
        .where(in_period).group_by(StaffUser.id, StaffUser.display_name).order_by(func.count().desc())).all()
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "received": sum(by_category.values()),
        "by_category": {c: by_category.get(c, 0) for c in CATEGORIES},
        "by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "resolved": len(hours),
        "average_hours_to_resolve": round(sum(hours) / len(hours), 1) if hours else None,
        "reopened": events.get("reopen", 0),
        "escalated": events.get("escalate", 0),
        "follow_up_answers": {"satisfied": answers.get("close", 0), "not_satisfied": answers.get("reopen", 0),
                              "satisfaction_rate": round(answers.get("close", 0) / asked, 3) if asked else None},
        "overdue_now": session.scalar(select(func.count()).select_from(Complaint).where(overdue_filter())) or 0,
        "responsible_staff": [{"staff_id": r[0], "name": r[1], "complaints": r[2]} for r in responsible],
    }
