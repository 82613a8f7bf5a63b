"""Handoff to staff: one row per escalation (queue entry, then the agent's ownership), its
event trail, agents' internal notes and canned replies."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .core import Conversation, Customer


class HandoffSession(Base):
    """A conversation escalated to staff: waiting in the queue, active with an agent, or closed.

    At most one per conversation is open (a partial unique index). ``clock_start`` is when the
    first-response clock starts: the queue time, or the next opening time for a question
    recorded outside working hours.
    """

    __tablename__ = "handoff_sessions"
    __table_args__ = (
        Index("ix_handoff_sessions_status", "status", "created_at"),
        Index("uq_handoff_sessions_open", "conversation_id", unique=True,
              sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # request | anger | repeat_failure | low_confidence | complaint
    question: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | active | closed
    #: Recorded while no one was at work (or on duty): the bot keeps serving until an agent takes it.
    after_hours: Mapped[bool] = mapped_column(default=False)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_start: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_responder_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    first_response_target_seconds: Mapped[int] = mapped_column(default=120)
    #: Since when the customer waits for an agent's answer (None: nothing unanswered).
    awaiting_since: Mapped[datetime | None]
    last_agent_at: Mapped[datetime | None]
    requeued: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None]
    close_kind: Mapped[str | None] = mapped_column(String(16))  # handback | closed | cancelled

    conversation: Mapped[Conversation] = relationship(lazy="joined")
    customer: Mapped[Customer] = relationship(lazy="joined")

    @property
    def first_response_seconds(self) -> float | None:
        if self.first_response_at is None:
            return None
        return max(0.0, (self.first_response_at - self.clock_start).total_seconds())

    @property
    def met_target(self) -> bool | None:
        seconds = self.first_response_seconds
        return None if seconds is None else seconds <= self.first_response_target_seconds


class HandoffEvent(Base):
    """What happened to a handoff and who did it: queued, claimed, transferred, requeued, closed."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff_sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class HandoffNote(Base):
    """An internal note on a conversation; staff see it, the customer never does."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedReply(Base):
    """A prepared answer agents insert into the reply box."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))  # zh | en | None for both
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
