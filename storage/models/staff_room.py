"""The staff room (a Telegram staff group with a topic per customer): which thread of the room
belongs to which customer, and which platform account is which staff member."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class StaffTopic(Base):
    """One customer's thread in the staff room, reused whenever they are handed to staff again.

    ``thread_id`` is empty until the platform has created the thread (the outbox sender does it
    before the thread's first post); ``conversation_id`` is the conversation of the latest handoff.
    """

    __tablename__ = "staff_topics"
    __table_args__ = (UniqueConstraint("room", "customer_id"), UniqueConstraint("room", "thread_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    closed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffLink(Base):
    """A staff member's account on a platform (their Telegram user id), so what they write there
    acts as them."""

    __tablename__ = "staff_links"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"), UniqueConstraint("platform", "staff_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
