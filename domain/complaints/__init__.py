"""Complaints (投诉) from receipt to close, platform-free: the chat handler, the REST API,
the console and the deadline job all change a complaint only through this module.

    received -> assigned -> investigating -> resolved -> follow_up -> closed
                                 ^                            |
                                 +------ reopen (not satisfied)

Every change is a ``ComplaintEvent`` (who, when, comment) and the customer hears of it
through the outbox in the same transaction. Each stage has a deadline from the settings;
a job flags the complaint overdue and escalates it to a supervisor when it passes, except
after the resolution, where the deadline is the moment of the follow-up visit (回访).
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage import jobs
from domain.settings import DeskSettings
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.notices.delivery import notify_customer
from handlers.services import Services
from storage.models import Complaint, ComplaintEvent, Conversation, Customer, Job, StaffUser, utcnow

log = logging.getLogger(__name__)

CATEGORIES = ("staff_conduct", "delay", "wrong_result", "system", "other")
CONTACTS = ("chat", "phone", "email")
STATUSES = ("received", "assigned", "investigating", "resolved", "follow_up", "closed")
OPEN_STATUSES = STATUSES[:-1]

#: action -> (stages it may start from, stage it leads to; None keeps the stage).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "assign": (frozenset({"received", "assigned", "investigating"}), None),
    "start": (frozenset({"assigned"}), "investigating"),
    "resolve": (frozenset({"investigating"}), "resolved"),
    "follow_up": (frozenset({"resolved"}), "follow_up"),
    "close": (frozenset({"follow_up"}), "closed"),
    "reopen": (frozenset({"resolved", "follow_up"}), "investigating"),
}

JOB_DEADLINE = "complaint.deadline"
_TICKET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: A ticket number as customers type it: TS261126-7KQ4 (the dash and case are optional).
TICKET_PATTERN = re.compile(r"\bTS(\d{6})-?([A-HJ-NP-Z2-9]{4})\b", re.IGNORECASE)


class ComplaintError(Exception):
    """A request the complaint process cannot take; the message says why, for staff."""


class IllegalTransition(ComplaintError):
    """The action is not allowed in the complaint's current stage (REST: 409)."""


class ComplaintInputError(ComplaintError):
    """Missing or wrong data for an allowed action (REST: 422)."""


@dataclass
class Actor:
    """Who changes a complaint: ``customer``, ``staff`` (with ``staff_id``) or ``system``."""

    kind: str
    staff_id: int | None = None


SYSTEM = Actor("system")


def stage_hours(settings: DeskSettings, status: str) -> float | None:
    """The deadline of a stage in hours; a closed complaint has none."""
    if status == "closed":
        return None
    return float(getattr(settings, f"complaint_{status}_hours"))


def normalize_ticket(text: str) -> str | None:
    """The ticket number found in ``text`` in its stored form, or None."""
    match = TICKET_PATTERN.search(text)
    if match is None:
        return None
    return f"TS{match.group(1)}-{match.group(2).upper()}"


def _new_ticket(session: Session) -> str:
    today = utcnow().strftime("%y%m%d")
    for _ in range(20):
        ticket = f"TS{today}-" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(4))
        if session.scalar(select(Complaint.id).where(Complaint.ticket == ticket)) is None:
            return ticket
    raise ComplaintError("could not find a free ticket number")


def person_customer_ids(session: Session, customer: Customer) -> list[int]:
    """Every identity of the person behind ``customer`` (linked channels count as the same person)."""
    person = customer.person
    return list(session.scalars(select(Customer.id).where(or_(Customer.id == person, Customer.person_id == person))))


def customer_applications(session: Session, customer: Customer) -> list[tuple[int, str]]:
    """The person's own submitted applications (over linked identities) as (id, reference),
    newest first, for "which application is it about"."""
    from domain.applications import customer_applications as submitted

    return [(app.id, app.reference or str(app.id)) for app in submitted(session, customer)[:10]]


# -- creating and finding ------------------------------------------------------------------------

def create(
    session: Session,
    settings: DeskSettings,
    conversation: Conversation,
    *,
    category: str,
    description: str,
    attachment_ids: list[int] | None = None,
    application_id: int | None = None,
    application_ref: str | None = None,
    contact_preference: str = "chat",
    contact_value: str | None = None,
) -> Complaint:
    """Record a new complaint (投诉受理), give it a ticket number and start its first deadline."""
    if category not in CATEGORIES:
        raise ComplaintInputError(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}")
    if contact_preference not in CONTACTS:
        raise ComplaintInputError(f"unknown contact preference {contact_preference!r}")
    if not description.strip():
        raise ComplaintInputError("a complaint needs a description of what happened")
    now = utcnow()
    complaint = Complaint(
        ticket=_new_ticket(session),
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        language=conversation.language or settings.default_language,
        category=category,
        description=description.strip(),
        attachment_ids=list(attachment_ids or []),
        application_id=application_id,
        application_ref=application_ref,
        contact_preference=contact_preference,
        contact_value=contact_value,
        status="received",
        created_at=now,
        updated_at=now,
    )
    session.add(complaint)
    if contact_preference == "email" and contact_value and not conversation.customer.email:
        conversation.customer.email = contact_value  # so the email notifier reaches them too
    session.flush()
    session.add(ComplaintEvent(complaint_id=complaint.id, action="received", from_status=None, to_status="received",
                               actor="customer", created_at=now))
    _set_deadline(session, settings, complaint, now)
    log.info("complaint %s received (category %s)", complaint.ticket, category)
    return complaint


def get_by_ticket(session: Session, ticket: str) -> Complaint | None:
    normalized = normalize_ticket(ticket)
    if normalized is None:
        return None
    return session.scalars(select(Complaint).where(Complaint.ticket == normalized)).one_or_none()


def find_for_customer(session: Session, customer: Customer, ticket: str) -> Complaint | None:
    """The complaint with this ticket only if it is the customer's own; another's is "not found"."""
    complaint = get_by_ticket(session, ticket)
    if complaint is None or complaint.customer_id not in person_customer_ids(session, customer):
        return None
    return complaint


def customer_complaints(session: Session, customer: Customer, limit: int = 10) -> list[Complaint]:
    return list(session.scalars(
        select(Complaint).where(Complaint.customer_id.in_(person_customer_ids(session, customer)))
        .order_by(Complaint.id.desc()).limit(limit)
    ))


# -- the lifecycle -------------------------------------------------------------------------------

def transition(
    session: Session,
    services: Services,
    complaint: Complaint,
    action: str,
    actor: Actor,
    comment: str | None = None,
    **fields: Any,
) -> ComplaintEvent:
    """Apply ``action`` (see ``TRANSITIONS``) or raise ``IllegalTransition`` / ``ComplaintInputError``.

    ``assign`` takes ``staff_id``; ``resolve`` takes ``resolution`` (sent to the customer) and
    optionally ``finding``, ``responsible_staff_id`` and ``measure`` (责任追究).
    """
    if action not in TRANSITIONS:
        raise ComplaintInputError(f"unknown action {action!r}; choose one of {', '.join(TRANSITIONS)}")
    allowed_from, target = TRANSITIONS[action]
    if complaint.status not in allowed_from:
        raise IllegalTransition(
            f"complaint {complaint.ticket} is {complaint.status}: '{action}' is allowed only when it is "
            f"{' or '.join(sorted(allowed_from))}"
        )
    unknown = set(fields) - {"staff_id", "resolution", "finding", "responsible_staff_id", "measure"}
    if unknown:
        raise ComplaintInputError(f"'{action}' does not take {', '.join(sorted(unknown))}")
    if action == "assign":
        staff = _active_staff(session, fields.get("staff_id"), "staff_id")
        complaint.assigned_to = staff.id
        target = "assigned" if complaint.status == "received" else complaint.status
    if action == "resolve":
        # Check everything before changing anything: a refused request leaves no trace.
        resolution = (fields.get("resolution") or "").strip()
        if not resolution:
            raise ComplaintInputError("'resolve' needs the resolution that is sent to the customer")
        responsible = None
        if fields.get("responsible_staff_id") is not None:
            responsible = _active_staff(session, fields["responsible_staff_id"], "responsible_staff_id",
                                        must_be_active=False).id
        complaint.resolution, complaint.responsible_staff_id = resolution, responsible
        complaint.finding = (fields.get("finding") or "").strip() or None
        complaint.measure = (fields.get("measure") or "").strip() or None
        complaint.resolved_at = utcnow()
    if action == "close":
        complaint.closed_at = utcnow()
        if actor.kind == "customer":
            complaint.satisfied = True
    if action == "reopen":
        complaint.reopen_count += 1
        complaint.resolved_at = None
        if actor.kind == "customer":
            complaint.satisfied = False

    details: dict[str, Any] = {}
    if action == "assign":
        details = {"staff_id": complaint.assigned_to}
    elif action == "resolve":
        details = {"resolution": complaint.resolution, "finding": complaint.finding,
                   "responsible_staff_id": complaint.responsible_staff_id, "measure": complaint.measure}
    assert target is not None
    now = utcnow()
    event = ComplaintEvent(complaint_id=complaint.id, action=action, from_status=complaint.status, to_status=target,
                           actor=actor.kind, staff_id=actor.staff_id, comment=(comment or "").strip() or None,
                           details=details, created_at=now)
    session.add(event)
    previous = complaint.status
    complaint.status, complaint.updated_at = target, now
    if target != previous:
        complaint.overdue = False
        _set_deadline(session, services.settings, complaint, now, previous)
    if actor.kind != "customer":
        _notify_customer(session, services, complaint, action)
    log.info("complaint %s: %s by %s -> %s", complaint.ticket, action, actor.kind, target)
    return event


def _active_staff(session: Session, staff_id: object, field_name: str, must_be_active: bool = True) -> StaffUser:
    if not isinstance(staff_id, int):
        raise ComplaintInputError(f"{field_name} must be a staff member's id")
    staff = session.get(StaffUser, staff_id)
    if staff is None or (must_be_active and not staff.active):
        raise ComplaintInputError(f"{field_name} {staff_id} is not an active staff member")
    return staff


def deadline_key(complaint: Complaint, status: str) -> str:
    """One job per complaint and stage. Per stage, because the job that ends the resolved stage
    starts the follow-up's deadline while it runs: one shared job row would be marked done."""
    return f"complaint:deadline:{complaint.id}:{status}"


def _set_deadline(session: Session, settings: DeskSettings, complaint: Complaint, now: datetime,
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


def _conversation_replies(complaint: Complaint, action: str) -> list[Reply]:
    lang = complaint.language
    ticket = complaint.ticket
    if action == "resolve":
        return [Reply(t("complaint.notify.resolved", lang, ticket=ticket, resolution=complaint.resolution or ""))]
    if action == "follow_up":
        return [Reply(t("complaint.notify.follow_up", lang, ticket=ticket), [
            Button(t("complaint.button.satisfied", lang), f"complaint:satisfied:{ticket}:yes"),
            Button(t("complaint.button.not_satisfied", lang), f"complaint:satisfied:{ticket}:no"),
        ])]
    return [Reply(t(f"complaint.notify.{action}", lang, ticket=ticket))]


def _notify_customer(session: Session, services: Services, complaint: Complaint, action: str) -> None:
    """Tell the customer in their chat, and by email where they gave an address (queued in
    this transaction; the outbox and the job runner send after the commit)."""
    customer = session.get(Customer, complaint.customer_id)
    if customer is None:
        return
    subject = t("complaint.notify.subject", complaint.language, ticket=complaint.ticket)
    for reply in _conversation_replies(complaint, action):
        notify_customer(session, services, customer, subject, reply)


# -- deadlines -----------------------------------------------------------------------------------

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


def run_deadline(session: Session, job: Job, services: Services) -> None:
    """Job ``complaint.deadline``: the stage named in the job is past its deadline."""
    complaint = session.get(Complaint, job.payload.get("complaint_id"))
    if complaint is None or complaint.status != job.payload.get("status") or complaint.due_at is None:
        return  # the complaint moved on since the job was set
    if complaint.due_at > utcnow():
        return
    if complaint.status == "resolved":
        transition(session, services, complaint, "follow_up", SYSTEM)
    elif not complaint.overdue:
        escalate(session, complaint)


def overdue_filter(now: datetime | None = None):  # type: ignore[no-untyped-def]
    """SQL condition: an open complaint flagged overdue or past its deadline now."""
    now = now or utcnow()
    return (Complaint.status != "closed") & (Complaint.overdue.is_(True) | (Complaint.due_at < now))


# -- figures -------------------------------------------------------------------------------------

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
