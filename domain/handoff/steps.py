"""The small steps every handoff action is made of: the lock, the trail, the idle timer, and
keeping the platform's own session in step.

Locking: every change takes the conversation's row lock first (``FOR UPDATE`` on PostgreSQL, the
single writer on SQLite), then reads the handoff row, the same order the engine uses.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.handoff.ports import HandoffServices
from domain.settings import DeskSettings
from storage import jobs
from storage.models import Conversation, HandoffEvent, HandoffSession, utcnow
from storage.repositories import lock_conversation_by_id, lock_for_update

IDLE_JOB = "handoff.idle"
#: Automatic assignment's catch-up: fill the queue, hand off-duty agents' conversations on (balance.py).
BALANCE_JOB = "handoff.balance"


class HandoffError(Exception):
    """A staff action that cannot happen; ``code`` names why (for the console's message)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def lock_handoff(session: Session, handoff_id: int) -> HandoffSession:
    """The handoff, read after its conversation's row lock is held."""
    conversation_id = session.scalar(select(HandoffSession.conversation_id).where(HandoffSession.id == handoff_id))
    if conversation_id is None:
        raise HandoffError("not_found")
    lock_conversation_by_id(session, conversation_id)
    handoff = session.get(HandoffSession, handoff_id, populate_existing=True)
    assert handoff is not None
    return handoff


def record(session: Session, handoff: HandoffSession, kind: str, staff_id: int | None = None,
           **detail: Any) -> None:
    """One line of the handoff's trail (``handoff_events``), which the figures count."""
    session.add(HandoffEvent(handoff_id=handoff.id, kind=kind, staff_id=staff_id, detail=detail))


def sync_platform(session: Session, services: HandoffServices, conversation: Conversation,
                  handoff: HandoffSession) -> None:
    """Tell the conversation's platform, if it keeps a session state of its own (ports.py)."""
    transfer = services.platform_transfers.get(conversation.channel)
    if transfer is not None:
        transfer(session, conversation, handoff)


def try_lock_handoff(session: Session, handoff_id: int) -> HandoffSession | None:
    """Like ``lock_handoff``, but None at once when another transaction holds the conversation
    (``SKIP LOCKED``): a job working through many handoffs never waits while holding locks."""
    conversation_id = session.scalar(select(HandoffSession.conversation_id).where(HandoffSession.id == handoff_id))
    if conversation_id is None:
        return None
    query = select(Conversation.id).where(Conversation.id == conversation_id)
    if session.scalar(lock_for_update(session, query, skip_locked=True, of=Conversation)) is None:
        return None
    return session.get(HandoffSession, handoff_id, populate_existing=True)


def schedule_balance(session: Session, settings: DeskSettings) -> None:
    """Capacity or duty changed: with automatic assignment, let the balance job run now."""
    if settings.handoff_auto_assign:
        jobs.schedule(session, BALANCE_JOB, utcnow(), dedupe_key="handoff-balance")


def idle_key(handoff_id: int) -> str:
    return f"handoff-idle:{handoff_id}"


def idle_due(settings: DeskSettings, handoff: HandoffSession) -> datetime:
    """When an agent who has not answered the waiting customer loses the conversation."""
    assert handoff.awaiting_since is not None and handoff.claimed_at is not None
    start = max(handoff.awaiting_since, handoff.claimed_at)
    return start + timedelta(minutes=settings.handoff_idle_minutes)


def schedule_idle(session: Session, settings: DeskSettings, handoff: HandoffSession) -> None:
    """The agent has this long to answer the waiting customer before the conversation is requeued."""
    jobs.schedule(session, IDLE_JOB, idle_due(settings, handoff), {"handoff_id": handoff.id},
                  dedupe_key=idle_key(handoff.id))


def cancel_idle(session: Session, handoff: HandoffSession) -> None:
    jobs.cancel(session, idle_key(handoff.id))
