"""The staff room's threads: one per customer in the room (a Telegram staff group's forum
topic), found again when the customer comes back, and found from a thread when staff write in it.

The platform fills in ``thread_id`` when it has created the thread; everything else is decided
here, so the same rules hold for any room a channel offers.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Conversation, StaffTopic


def topic_of(session: Session, room: str, customer_id: int) -> StaffTopic | None:
    return session.scalar(select(StaffTopic).where(StaffTopic.room == room, StaffTopic.customer_id == customer_id))


def topic_for(session: Session, room: str, conversation: Conversation, title: str) -> tuple[StaffTopic, bool]:
    """The customer's thread in ``room`` (the caller holds the conversation's lock), now pointing at
    this conversation; (thread, new?). A new one waits for the platform to create its thread."""
    topic = topic_of(session, room, conversation.customer_id)
    if topic is not None:
        topic.conversation_id = conversation.id
        return topic, False
    topic = StaffTopic(room=room, customer_id=conversation.customer_id, conversation_id=conversation.id,
                       title=title[:128], closed=False)
    session.add(topic)
    session.flush()
    return topic, True


def topic_by_thread(session: Session, room: str, thread_id: str) -> StaffTopic | None:
    """The thread staff wrote in, if it is a customer's."""
    return session.scalar(select(StaffTopic).where(StaffTopic.room == room, StaffTopic.thread_id == thread_id))


def set_thread(session: Session, topic_id: int, thread_id: str | None) -> None:
    """The platform created the thread: remember its id (the channel, right after creating it);
    None: the thread is gone on the platform, make a new one on the next post."""
    topic = session.get(StaffTopic, topic_id)
    if topic is not None:
        topic.thread_id = thread_id
