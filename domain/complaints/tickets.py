"""Filing a complaint (投诉受理) and finding one by its ticket number, only ever the customer's own."""
from __future__ import annotations

import logging
import re
import secrets
from datetime import tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.complaints.deadlines import set_deadline
from domain.complaints.events import ComplaintFiled
from domain.settings import DeskServices
from domain.transitions import DomainError, InvalidRequest
from storage.models import Complaint, ComplaintEvent, Conversation, Customer, utcnow
from storage.repositories import person_customer_ids

log = logging.getLogger(__name__)

CATEGORIES = ("staff_conduct", "delay", "wrong_result", "system", "other")
CONTACTS = ("chat", "phone", "email")
_TICKET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: A ticket number as customers type it: TS261126-7KQ4 (the dash and case are optional).
TICKET_PATTERN = re.compile(r"\bTS(\d{6})-?([A-HJ-NP-Z2-9]{4})\b", re.IGNORECASE)


def normalize_ticket(text: str) -> str | None:
    """The ticket number found in ``text`` in its stored form, or None."""
    match = TICKET_PATTERN.search(text)
    if match is None:
        return None
    return f"TS{match.group(1)}-{match.group(2).upper()}"


def _new_ticket(session: Session, zone: tzinfo) -> str:
    """A free ticket number dated by the desk's day (its time zone), as reference numbers are."""
    today = utcnow().astimezone(zone).strftime("%y%m%d")
    for _ in range(20):
        ticket = f"TS{today}-" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(4))
        if session.scalar(select(Complaint.id).where(Complaint.ticket == ticket)) is None:
            return ticket
    raise DomainError("could not find a free ticket number")


def _check_new(category: str, description: str, contact_preference: str) -> None:
    if category not in CATEGORIES:
        raise InvalidRequest(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}")
    if contact_preference not in CONTACTS:
        raise InvalidRequest(f"unknown contact preference {contact_preference!r}")
    if not description.strip():
        raise InvalidRequest("a complaint needs a description of what happened")


def create(
    session: Session,
    services: DeskServices,
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
    """Record a new complaint, give it a ticket number and start its first deadline."""
    _check_new(category, description, contact_preference)
    now = utcnow()
    complaint = Complaint(
        ticket=_new_ticket(session, services.settings.working_hours.zone),
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        language=conversation.language or services.settings.default_language,
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
    set_deadline(session, services.settings, complaint, now)
    services.events.publish(session, ComplaintFiled(complaint.id, complaint.ticket, category))
    log.info("complaint %s received (category %s)", complaint.ticket, category)
    return complaint


def get_by_ticket(session: Session, ticket: str) -> Complaint | None:
    normalized = normalize_ticket(ticket)
    if normalized is None:
        return None
    return session.scalars(select(Complaint).where(Complaint.ticket == normalized)).one_or_none()


def find_for_customer(session: Session, customer: Customer, ticket: str) -> Complaint | None:
    """The complaint with this ticket only if it is the person's own (over linked identities);
    another's is "not found"."""
    normalized = normalize_ticket(ticket)
    if normalized is None:
        return None
    return session.scalars(select(Complaint).where(
        Complaint.ticket == normalized, Complaint.customer_id.in_(person_customer_ids(customer)))).one_or_none()


def awaiting_follow_up(session: Session, customer: Customer) -> Complaint | None:
    """The person's newest complaint whose follow-up visit waits for their answer."""
    return session.scalars(select(Complaint).where(
        Complaint.customer_id.in_(person_customer_ids(customer)), Complaint.status == "follow_up")
        .order_by(Complaint.id.desc())).first()


def customer_complaints(session: Session, customer: Customer, limit: int = 10) -> list[Complaint]:
    """The person's complaints over linked identities, newest first."""
    return list(session.scalars(
        select(Complaint).where(Complaint.customer_id.in_(person_customer_ids(customer)))
        .order_by(Complaint.id.desc()).limit(limit)
    ))
