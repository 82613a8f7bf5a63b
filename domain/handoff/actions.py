"""What customers and staff do to a handoff: queue, relay, cancel, claim, reply, transfer,
release, hand back, close; notes, canned replies and the on-duty switch.

Each change publishes its event (events.py) inside the transaction; the customer's notices are
the listeners' business. A claim is a conditional ``UPDATE ... WHERE status = 'waiting'``, so of
two agents claiming at once exactly one wins even without the lock.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.handoff.assign import ASSIGNED, choose_agent
from domain.handoff.events import (
    CloseKind,
    HandoffAnswered,
    HandoffClosed,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    HandoffTransferred,
    ReleaseWhy,
)
from domain.handoff.ports import HandoffServices
from domain.handoff.queue import agent_capable, open_handoff, opening
from domain.handoff.steps import (
    HandoffError,
    cancel_idle,
    lock_handoff,
    record,
    schedule_balance,
    schedule_idle,
    sync_platform,
)
from domain.handoff.typing import stop_typing
from domain.staff import has_role
from storage.models import Attachment, CannedReply, Conversation, HandoffNote, HandoffSession, StaffUser, utcnow
from storage.outbox import enqueue

log = logging.getLogger(__name__)

REASONS = ("request", "anger", "repeat_failure", "low_confidence", "complaint")


@dataclass(frozen=True)
class StaffMessage:
    """An agent's own words (and stored files) to the customer: no bot wording, no buttons (outbox format)."""

    text: str
    files: tuple[Attachment, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        files = [{"name": a.original_name or f"file-{a.id}", "url": None, "attachment_id": a.id} for a in self.files]
        return {"text": self.text, "buttons": [], "files": files}


# -- the customer side ---------------------------------------------------------------------------

def enqueue_handoff(session: Session, services: HandoffServices, conversation: Conversation, reason: str,
                    question: str) -> tuple[HandoffSession, bool]:
    """Put the conversation in the staff queue (the caller holds its lock). Returns (handoff, new?)."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    existing = open_handoff(session, conversation.id)
    now = utcnow()
    start = opening(session, services.settings, now)
    if existing is not None:
        if question and question not in existing.question:
            existing.question = (existing.question + "\n" + question).strip()
        if existing.status == "waiting" and existing.after_hours and not start.after_hours:
            # Recorded while nobody was at work; staff are here now: wait live in the queue.
            existing.after_hours, conversation.mode = False, "human"
            record(session, existing, "live")
            assign_waiting(session, services, existing)
        return existing, False
    handoff = HandoffSession(
        conversation_id=conversation.id, customer_id=conversation.customer_id, reason=reason,
        question=question, status="waiting", after_hours=start.after_hours, created_at=now,
        clock_start=start.clock_start, awaiting_since=now,
        first_response_target_seconds=services.settings.handoff_first_response_target_seconds,
    )
    session.add(handoff)
    session.flush()
    if not start.after_hours:
        conversation.mode = "human"
    record(session, handoff, "queued", reason=reason, after_hours=start.after_hours)
    log.info("conversation=%s handoff=%s queued reason=%s after_hours=%s", conversation.id, handoff.id, reason,
             start.after_hours)
    sync_platform(session, services, conversation, handoff)
    services.events.publish(session, HandoffOpened(handoff.id, conversation.id,
                                                   reason=reason, after_hours=start.after_hours))
    if not start.after_hours:
        assign_waiting(session, services, handoff)
    return handoff, True


def relay_to_staff(session: Session, services: HandoffServices, conversation: Conversation) -> bool:
    """A customer message in human mode: staff see it, the bot stays silent; the agent's idle
    clock starts with the first unanswered message. False when no handoff is open after all:
    the conversation goes back to the bot, which then answers the message."""
    handoff = open_handoff(session, conversation.id)
    if handoff is None:
        log.warning("conversation=%s in human mode without an open handoff; back to the bot", conversation.id)
        conversation.mode = "bot"
        return False
    if handoff.awaiting_since is None:
        handoff.awaiting_since = utcnow()
        if handoff.status == "active":
            schedule_idle(session, services.settings, handoff)
    log.info("conversation=%s message relayed to staff (handoff=%s)", conversation.id, handoff.id)
    return True


def cancel_waiting(session: Session, services: HandoffServices, conversation: Conversation) -> bool:
    """The customer no longer wants a person (only before one took the conversation)."""
    handoff = open_handoff(session, conversation.id)
    if handoff is None or handoff.status != "waiting":
        return False
    _finish(session, services, handoff, conversation, "cancelled", None)
    return True


# -- staff actions -------------------------------------------------------------------------------

def _may_act(handoff: HandoffSession, agent: StaffUser) -> None:
    if handoff.status == "closed":
        raise HandoffError("closed")
    if handoff.status != "active":
        raise HandoffError("not_taken")
    if handoff.agent_id != agent.id and not has_role(agent.role, "supervisor"):
        raise HandoffError("not_yours")


def claim(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser) -> HandoffSession:
    """Take a waiting conversation. Of concurrent claims exactly one wins; the others get "taken"."""
    if not agent_capable(agent):
        raise HandoffError("not_agent")
    handoff = lock_handoff(session, handoff_id)
    if not _take(session, services, handoff, agent, "claimed"):
        raise HandoffError("taken" if handoff.status == "active" else "closed")
    return handoff


def assign_waiting(session: Session, services: HandoffServices, handoff: HandoffSession,
                   exclude: int | None = None) -> StaffUser | None:
    """With automatic assignment on, give the waiting handoff (its conversation locked by the
    caller) to the agent assign.py chooses, never ``exclude``; None: it stays in the queue."""
    settings = services.settings
    if not settings.handoff_auto_assign or handoff.status != "waiting":
        return None
    if not settings.working_hours.is_open(utcnow()):
        return None
    agent = choose_agent(session, settings, exclude)
    if agent is None or not _take(session, services, handoff, agent, ASSIGNED):
        return None
    return agent


def _take(session: Session, services: HandoffServices, handoff: HandoffSession, agent: StaffUser,
          kind: str) -> bool:
    """The one atomic step of a claim or an assignment: ``waiting`` becomes ``active`` with
    ``agent`` only if no one else got there first (a conditional UPDATE)."""
    session.flush()
    now = utcnow()
    won = session.execute(
        update(HandoffSession)
        .where(HandoffSession.id == handoff.id, HandoffSession.status == "waiting")
        .values(status="active", agent_id=agent.id, claimed_at=now, last_agent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(handoff)
    if not won:
        return False
    conversation = handoff.conversation
    conversation.mode = "human"
    record(session, handoff, kind, agent.id)
    sync_platform(session, services, conversation, handoff)
    if handoff.awaiting_since is not None:
        schedule_idle(session, services.settings, handoff)
    services.events.publish(session, HandoffTaken(handoff.id, conversation.id,
                                                  agent_id=agent.id, agent_name=agent.display_name))
    log.info("conversation=%s handoff=%s %s by staff=%s", conversation.id, handoff.id, kind, agent.id)
    return True


def reply(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser, text: str,
          files: tuple[Attachment, ...] = (), via: str = "console") -> int:
    """Send the agent's words and stored files to the customer (transcript + outbox), written in
    ``via`` (the console or the staff room). Returns the outbox id."""
    text = text.strip()
    if not text and not files:
        raise HandoffError("empty")
    handoff = lock_handoff(session, handoff_id)
    _may_act(handoff, agent)
    now = utcnow()
    [outbox_id] = enqueue(session, handoff.conversation, [StaffMessage(text, files)], sender="staff",
                          staff_id=agent.id)
    if handoff.first_response_at is None:
        handoff.first_response_at, handoff.first_responder_id = now, agent.id
    handoff.awaiting_since, handoff.last_agent_at = None, now
    cancel_idle(session, handoff)
    stop_typing(session, handoff.conversation_id)
    services.events.publish(session, HandoffAnswered(handoff.id, handoff.conversation_id, agent_id=agent.id,
                                                     agent_name=agent.display_name, text=text,
                                                     attachment_ids=tuple(a.id for a in files), via=via))
    return outbox_id


def transfer(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser,
             to_id: int) -> HandoffSession:
    handoff = lock_handoff(session, handoff_id)
    _may_act(handoff, agent)
    target = session.get(StaffUser, to_id)
    if target is None or not agent_capable(target):
        raise HandoffError("bad_target")
    if target.id == handoff.agent_id:
        raise HandoffError("same_agent")
    from_agent = handoff.agent_id
    record(session, handoff, "transferred", agent.id, from_agent=from_agent, to_agent=target.id)
    handoff.agent_id, handoff.claimed_at = target.id, utcnow()
    if handoff.awaiting_since is not None:
        schedule_idle(session, services.settings, handoff)
    sync_platform(session, services, handoff.conversation, handoff)
    services.events.publish(session, HandoffTransferred(
        handoff.id, handoff.conversation_id, from_agent_id=from_agent, to_agent_id=target.id,
        to_agent_name=target.display_name))
    schedule_balance(session, services.settings)
    return handoff


def release(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser | None,
            why: ReleaseWhy = "released") -> HandoffSession:
    """Put an active conversation back in the queue: the agent gives it up, or (``agent`` None)
    left it: ``why`` is "idle" or "off_duty". With automatic assignment another agent gets it."""
    handoff = lock_handoff(session, handoff_id)
    if agent is not None:
        _may_act(handoff, agent)
    elif handoff.status != "active":
        raise HandoffError("not_taken")
    from_agent = handoff.agent_id
    record(session, handoff, "requeued", agent.id if agent else None, from_agent=from_agent, why=why)
    handoff.status, handoff.agent_id, handoff.requeued = "waiting", None, handoff.requeued + 1
    cancel_idle(session, handoff)
    sync_platform(session, services, handoff.conversation, handoff)
    services.events.publish(session, HandoffReleased(handoff.id, handoff.conversation_id,
                                                     from_agent_id=from_agent, why=why))
    assign_waiting(session, services, handoff, exclude=from_agent)
    return handoff


def hand_back(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser) -> HandoffSession:
    """The bot takes the conversation again; the customer gets the menu and is asked to rate."""
    handoff = lock_handoff(session, handoff_id)
    _may_act(handoff, agent)
    _finish(session, services, handoff, handoff.conversation, "handback", agent)
    return handoff


def close(session: Session, services: HandoffServices, handoff_id: int, agent: StaffUser) -> HandoffSession:
    """The matter is done: thank the customer, ask for a rating, and let the bot serve again."""
    handoff = lock_handoff(session, handoff_id)
    if handoff.status == "waiting" and has_role(agent.role, "agent"):
        # A recorded question answered with no claim, or a duplicate: close from the queue.
        handoff.agent_id = handoff.agent_id or agent.id
    else:
        _may_act(handoff, agent)
    _finish(session, services, handoff, handoff.conversation, "closed", agent)
    return handoff


def _finish(session: Session, services: HandoffServices, handoff: HandoffSession, conversation: Conversation,
            kind: CloseKind, agent: StaffUser | None) -> None:
    handoff.status, handoff.closed_at, handoff.close_kind = "closed", utcnow(), kind
    handoff.awaiting_since = None
    conversation.mode = "bot"
    cancel_idle(session, handoff)
    record(session, handoff, kind, agent.id if agent else None)
    sync_platform(session, services, conversation, handoff)
    schedule_balance(session, services.settings)
    services.events.publish(session, HandoffClosed(
        handoff.id, conversation.id, kind=kind, closed_by=agent.id if agent else None,
        served_by=handoff.first_responder_id or handoff.agent_id, answered=handoff.first_response_at is not None))
    if kind != "cancelled":
        log.info("conversation=%s handoff=%s %s by staff=%s", conversation.id, handoff.id, kind,
                 agent.id if agent else None)


# -- notes, canned replies, duty -----------------------------------------------------------------

def add_note(session: Session, conversation_id: int, staff: StaffUser, text: str) -> HandoffNote:
    text = text.strip()
    if not text:
        raise HandoffError("empty")
    note = HandoffNote(conversation_id=conversation_id, staff_id=staff.id, text=text)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, conversation_id: int) -> list[HandoffNote]:
    return list(session.scalars(select(HandoffNote).where(HandoffNote.conversation_id == conversation_id)
                                .order_by(HandoffNote.id)))


def canned_replies(session: Session, lang: str | None = None) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.title)
    if lang:
        query = query.where((CannedReply.language == lang) | CannedReply.language.is_(None))
    return list(session.scalars(query))


def add_canned(session: Session, staff: StaffUser, title: str, text: str, lang: str | None) -> CannedReply:
    if not title.strip() or not text.strip():
        raise HandoffError("empty")
    row = CannedReply(title=title.strip()[:100], text=text.strip(), language=lang if lang in ("zh", "en") else None,
                      created_by=staff.id)
    session.add(row)
    session.flush()
    return row


def set_on_duty(session: Session, services: HandoffServices, staff: StaffUser, on_duty: bool) -> None:
    """On duty feeds the wait estimate and decides whether a handoff waits or is recorded; with
    automatic assignment the balance job then fills the queue or hands the agent's conversations on."""
    staff.on_duty = on_duty
    schedule_balance(session, services.settings)
    log.info("staff=%s on_duty=%s", staff.id, on_duty)
