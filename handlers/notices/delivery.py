"""Telling a customer something later (a status change, a result, an answer).

Notifiers sit behind one interface because the rules name several ways to reach a
customer (chat, email, SMS, phone). A notice about a case goes to the chat the case came from
(its ``conversation_id``), never to whichever linked identity wrote last: proving an identity
once from another chat is not a choice to be told there. Each notifier queues durable work inside the
caller's transaction: chat messages go to the outbox, emails become jobs that the job
runner sends with retries; nothing is sent while the transaction may still roll back.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from handlers.messages import Reply
from handlers.services import Services
from storage.jobs import schedule
from storage.models import Conversation, Customer, utcnow
from storage.outbox import enqueue

EMAIL_JOB = "notify.email"


class Notifier(Protocol):
    name: str

    def notify(self, session: Session, customer: Customer, chat: Conversation | None, subject: str,
               reply: Reply) -> bool:
        """Queue the notice; False when this way cannot reach the customer."""


class ChatNotifier:
    """The chat the case came from, through the outbox."""

    name = "chat"

    def notify(self, session: Session, customer: Customer, chat: Conversation | None, subject: str,
               reply: Reply) -> bool:
        if chat is None:
            return False
        enqueue(session, chat, [reply], sender="bot")
        return True


class EmailNotifier:
    """Email by SMTP, for customers who gave an address, when SMTP is configured."""

    name = "email"

    def notify(self, session: Session, customer: Customer, chat: Conversation | None, subject: str,
               reply: Reply) -> bool:
        if not customer.email:
            return False
        schedule(session, EMAIL_JOB, utcnow(), {"to": customer.email, "subject": subject, "body": reply.text})
        return True


def notifiers(services: Services) -> list[Notifier]:
    active: list[Notifier] = [ChatNotifier()]
    if services.settings.smtp_host:
        active.append(EmailNotifier())
    return active


def case_chat(session: Session, conversation_id: int | None) -> Conversation | None:
    """The chat a case was submitted from: where its notices go."""
    return session.get(Conversation, conversation_id) if conversation_id is not None else None


def notify_customer(session: Session, services: Services, customer: Customer, chat: Conversation | None,
                    subject: str, reply: Reply) -> list[str]:
    """Queue a notice on every way that reaches the customer (``chat``: the case's own chat);
    returns the ways used. The caller calls ``services.wake_outbox()`` after committing."""
    return [n.name for n in notifiers(services) if n.notify(session, customer, chat, subject, reply)]
