"""An agent preparing a reply: the customer should see it, and never after the reply itself.

The signal is a short-lived key-value row per conversation (``TYPING_SECONDS``, renewed while the
agent types); ``actions.reply`` removes it in the transaction that queues the answer, so a page
that reads messages and the signal together never shows "typing" after the reply. A signal that
reaches the server just after the agent's reply (both were on their way) is dropped: the agent
sent a message less than ``AFTER_REPLY_SECONDS`` ago. The signal takes the conversation's lock,
like ``reply``; the caller shows it on the platform before committing, so a reply queued at the
same moment commits, and is sent, only after the platform's "typing".
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.handoff.steps import HandoffError, lock_handoff
from domain.staff import has_role
from storage.models import Conversation, Message, StaffUser, utcnow
from storage.repositories import KeyValueStore

#: How long one signal shows (Telegram's own chat action lasts five seconds).
TYPING_SECONDS = 6
AFTER_REPLY_SECONDS = 3


def _key(conversation_id: int) -> str:
    return f"typing:{conversation_id}"


def agent_typing(session: Session, handoff_id: int, agent: StaffUser) -> Conversation | None:
    """The agent types in the handoff's conversation: mark it, and return the conversation whose
    customer should see it; None when the signal is dropped (not their conversation, or late)."""
    try:
        handoff = lock_handoff(session, handoff_id)  # the lock ``reply`` takes: one after the other
    except HandoffError:
        return None
    if handoff.status != "active":
        return None
    if handoff.agent_id != agent.id and not has_role(agent.role, "supervisor"):
        return None
    last_reply = session.scalar(select(func.max(Message.created_at)).where(
        Message.conversation_id == handoff.conversation_id, Message.sender == "staff"))
    if last_reply is not None and utcnow() - last_reply < timedelta(seconds=AFTER_REPLY_SECONDS):
        return None
    KeyValueStore(session).put(_key(handoff.conversation_id), {"staff_id": agent.id},
                               ttl=timedelta(seconds=TYPING_SECONDS))
    return handoff.conversation


def is_agent_typing(session: Session, conversation_id: int) -> bool:
    return KeyValueStore(session).get(_key(conversation_id)) is not None


def stop_typing(session: Session, conversation_id: int) -> None:
    """The reply is queued: the signal ends with it."""
    KeyValueStore(session).remove(_key(conversation_id))
