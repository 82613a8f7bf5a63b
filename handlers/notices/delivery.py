"""Telling a customer something later (a status change, a result, an answer).

Notifiers sit behind one interface because the rules name several ways to reach a
customer (chat, email, SMS, phone). Each notifier queues durable work inside the
caller's transaction: chat messages go to the outbox, emails become jobs that the job
runner sends with retries; nothing is sent while the transaction may still roll back.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.messages import Reply
from handlers.services import Services
from storage.jobs import schedule
from storage.models import Conversation, Customer, utcnow
from storage.outbox import enqueue

EMAIL_JOB = "notify.email"


class Notifier(Protocol):
    name: str

    def notify(self, session: Session, customer: Customer, subject: str, reply: Reply) -> bool:
        """Queue the notice; False when this way cannot reach the customer."""


def latest_conversation(session: Session, customer: Customer) -> Conversation | None:
    """The chat the customer used last, over all their linked identities."""
    person = customer.person
    ids = select(Customer.id).where((Customer.id == person) | (Customer.person_id == person))
    return session.scalars(
        select(Conversation).where(Conversation.customer_id.in_(ids))
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
    ).first()


class ChatNotifier:
    """The customer's chat channel, through the outbox."""

    name = "chat"

    def notify(self, session: Session, customer: Customer, subject: str, reply: Reply) -> bool:
        conversation = latest_conversation(session, customer)
        if conversation is None:
            return False
        enqueue(session, conversation, [reply], sender="bot")
        return True


class EmailNotifier:
    """Email by SMTP, for customers who gave an address, when SMTP is configured."""

    name = "email"

    def notify(self, session: Session, customer: Customer, subject: str, reply: Reply) -> bool:
        if not customer.email:
            return False
        schedule(session, EMAIL_JOB, utcnow(), {"to": customer.email, "subject": subject, "body": reply.text})
        return True


def notifiers(services: Services) -> list[Notifier]:
    active: list[Notifier] = [ChatNotifier()]
    if services.settings.smtp_host:
        active.append(EmailNotifier())
    return active


def notify_customer(session: Session, services: Services, customer: Customer, subject: str, reply: Reply) -> list[str]:
    """Queue a notice on every way that reaches the customer; returns the ways used.
    The caller calls ``services.wake_outbox()`` after committing."""
    return [n.name for n in notifiers(services) if n.notify(session, customer, subject, reply)]
