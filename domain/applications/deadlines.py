"""Time limits (办理时限): working days on the catalogue's calendar, the due date and its job.

The clock runs from the day complete materials arrive (plus any extensions given), stops while
a correction is open and starts again when the customer resubmits; a job flags the application
overdue if it is still open when the due day ends.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.applications.stages import OPEN_STAGES
from domain.catalogue import Calendar
from domain.settings import DeskServices
from storage.jobs import cancel, schedule
from storage.models import Application, ApplicationExtension, Job, utcnow

log = logging.getLogger(__name__)

DEADLINE_JOB = "application.deadline"


def add_working_days(start: date, days: int, calendar: Calendar) -> date:
    """The ``days``-th working day after ``start`` (the start day itself does not count)."""
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def local_date(moment: datetime, calendar: Calendar) -> date:
    return moment.astimezone(ZoneInfo(calendar.timezone)).date()


def end_of_day(day: date, calendar: Calendar) -> datetime:
    """The instant a due date ends: midnight after it, local time, as UTC-aware."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(calendar.timezone)).astimezone(
        ZoneInfo("UTC"))


def deadline_job_key(app: Application) -> str:
    return f"application:{app.id}:deadline"


def set_due(session: Session, app: Application, due: date, calendar: Calendar) -> None:
    app.due_date, app.due_at = due, end_of_day(due, calendar)
    app.overdue = app.due_at <= utcnow()
    schedule(session, DEADLINE_JOB, app.due_at, {"application_id": app.id}, dedupe_key=deadline_job_key(app))


def start_clock(session: Session, app: Application, calendar: Calendar, now: datetime) -> None:
    """The time limit runs from the day complete materials arrive, plus any extensions given."""
    extra = session.scalar(select(func.coalesce(func.sum(ApplicationExtension.days), 0))
                           .where(ApplicationExtension.application_id == app.id)) or 0
    set_due(session, app, add_working_days(local_date(now, calendar), app.time_limit_days + int(extra), calendar),
            calendar)


def pause_clock(session: Session, app: Application) -> None:
    app.due_date, app.due_at, app.overdue = None, None, False
    cancel(session, deadline_job_key(app))


def stop_clock(session: Session, app: Application) -> None:
    """A closed application has no pending deadline job (its due date stays, for the figures)."""
    cancel(session, deadline_job_key(app))


def deadline_job(session: Session, job: Job, services: DeskServices) -> None:
    """Job: flag the application overdue if it is still open when its time limit ends."""
    app = session.get(Application, job.payload.get("application_id"))
    if app is None or app.stage not in OPEN_STAGES or app.due_at is None:
        return
    if app.due_at <= utcnow() and not app.overdue:
        app.overdue = True
        log.warning("application %s is overdue (due %s)", app.reference, app.due_date)
