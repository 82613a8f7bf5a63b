"""The outbox table's API: every reply is a row (and a transcript line) before it is a send.

``enqueue`` is used by the engine and by anything that speaks to a customer later
(notifications, an agent's words); the sender that drains the rows is bot/outbox.py.
A message is anything with ``text`` and ``to_dict()`` (handlers' ``Reply``): storage keeps
its dict and knows nothing of what it means.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.db import OUTBOX_CHANNEL, notify
from storage.models import Conversation, Message, OutboxItem, utcnow

#: How long a claimed row stays leased to one sender.
LEASE = timedelta(seconds=120)
#: The payload key counting the parts of a split reply already delivered (absent: none).
PARTS_SENT = "parts_sent"


class OutgoingMessage(Protocol):
    text: str

    def to_dict(self) -> dict[str, Any]: ...


#: The payload key naming who wrote an outbox row (bot | staff); a transcript shows it.
SENDER = "sender"


def enqueue(
    session: Session,
    conversation: Conversation,
    replies: "list[OutgoingMessage]",
    sender: str = "bot",
    staff_id: int | None = None,
    address: tuple[str, str] | None = None,
) -> list[int]:
    """Queue replies for the conversation's chat and write them into the transcript; ``address``
    (channel, chat id) names the chat when the conversation no longer does (it was erased)."""
    channel, chat_id = address or (conversation.channel, conversation.chat_id)
    ids = []
    for reply in replies:
        payload = reply.to_dict()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="out",
                sender=sender,
                staff_id=staff_id,
                text=reply.text,
                payload={"buttons": payload["buttons"], "files": payload["files"]},
            )
        )
        ids.append(enqueue_to(session, channel, chat_id, {**payload, SENDER: sender}, conversation.id))
    return ids


def enqueue_to(session: Session, channel: str, chat_id: str, payload: dict[str, Any],
               conversation_id: int | None = None) -> int:
    """Queue one row for any chat of a channel, with no transcript line (``enqueue`` writes both;
    the staff room's posts about a conversation are not part of what the customer reads)."""
    item = OutboxItem(conversation_id=conversation_id, channel=channel, chat_id=chat_id, payload=payload)
    session.add(item)
    session.flush()
    notify(session, OUTBOX_CHANNEL)
    return item.id


def parts_sent(item: OutboxItem) -> int:
    """How many parts of this row's reply went out before a failure stopped its send."""
    return int(item.payload.get(PARTS_SENT, 0))


def record_parts_sent(session: Session, item_id: int, done: int) -> None:
    """Remember that ``done`` parts of the row's reply are out, so a retry starts after them."""
    item = session.get(OutboxItem, item_id)
    if item is not None:
        item.payload = {**item.payload, PARTS_SENT: done}


def wake_chat(session: Session, channel: str, chat_id: str) -> None:
    """The customer just wrote: replies waiting for that (deferred or backing off) may go now."""
    session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.channel == channel,
            OutboxItem.chat_id == chat_id,
            OutboxItem.status == "pending",
            OutboxItem.next_attempt_at > utcnow() + LEASE,
        )
        .values(next_attempt_at=utcnow())
    )


def retry_failed(session: Session, item_id: int) -> bool:
    """Staff put a failed reply back in the queue."""
    item = session.get(OutboxItem, item_id)
    if item is None or item.status != "failed":
        return False
    item.status, item.attempts, item.next_attempt_at, item.last_error = "pending", 0, utcnow(), None
    return True
