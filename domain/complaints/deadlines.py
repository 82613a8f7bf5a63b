"""Stage deadlines of a complaint, the overdue condition, and escalation to a supervisor.

Each stage has a deadline from the settings and a job (``complaint.deadline``) that checks
it; what the job does when it fires is in ``lifecycle.run_deadline``, as it may move the stage.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from domain.settings import DeskSettings
from storage import jobs
from storage.models import Complaint, ComplaintEvent, StaffUser, utcnow

log = logging.getLogger(__name__)

JOB_DEADLINE = "complaint.deadline"


def stage_hours(settings: DeskSettings, status: str) -> float | None:
    """The deadline of a stage in hours; a closed complaint has none."""
    if status == "closed":
        return None
    return float(getattr(settings, f"complaint_{status}_hours"))


def deadline_key(complaint: Complaint, status: str) -> str:
    """One job per complaint and stage. Per stage, because the job that ends the resolved stage
    starts the follow-up's deadline while it runs: one shared job row would be marked done."""
    return f"complaint:deadline:{complaint.id}:{status}"


def set_deadline(session: Session, settings: DeskSettings, complaint: Complaint, now: datetime,
                 previous: str | None = None) -> None:
    """Give the current stage its deadline and a job that checks it; a closed complaint has none."""
    if previous is not None:
        jobs.cancel(session, deadline_key(complaint, previous))
    hours = stage_hours(settings, complaint.status)
    if hours is None:
        complaint.due_at = None
        return
    complaint.due_at = now + timedelta(hours=hours)
    jobs.schedule(session, JOB_DEADLINE, complaint.due_at, {"complaint_id": complaint.id, "status": complaint.status},
                  dedupe_key=deadline_key(complaint, complaint.status))


def pick_supervisor(session: Session) -> StaffUser | None:
    """The supervisor an overdue complaint goes to: one on duty first, else any active one."""
    return session.scalars(
        select(StaffUser).where(StaffUser.role == "supervisor", StaffUser.active.is_(True))
        .order_by(StaffUser.on_duty.desc(), StaffUser.id)
    ).first()


def escalate(session: Session, complaint: Complaint) -> ComplaintEvent:
    """Flag the complaint overdue and hand it to a supervisor; the stage stays as it is."""
    now = utcnow()
    supervisor = pick_supervisor(session)
    complaint.overdue, complaint.escalated_at = True, now
    complaint.escalated_to = supervisor.id if supervisor else None
    event = ComplaintEvent(
        complaint_id=complaint.id, action="escalate", from_status=complaint.status, to_status=complaint.status,
        actor="system", staff_id=None, created_at=now,
        comment=f"overdue in stage {complaint.status} (due {complaint.due_at:%Y-%m-%d %H:%M} UTC); "
                + (f"escalated to supervisor {supervisor.username}" if supervisor else "no active supervisor found"),
    )
    session.add(event)
    log.warning("complaint %s overdue in stage %s; escalated to %s", complaint.ticket, complaint.status,
                f"staff {supervisor.id}" if supervisor else "nobody (no active supervisor)")
    return event


def overdue_filter(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition: an open complaint flagged overdue or past its deadline now."""
    now = now or utcnow()
    return (Complaint.status != "closed") & (Complaint.overdue.is_(True) | (Complaint.due_at < now))
