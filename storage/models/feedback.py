"""Ratings (FAQ votes and 1-5 scores) and complaints with their full history.

Entry ids and application ids belong to other features, so they are plain columns:
a rating or complaint outlives an edited knowledge file or a purged application.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class Rating(Base):
    """One customer verdict: a "helpful / not helpful" vote on an FAQ answer (kind ``helpful``)
    or a 1-5 score (kind ``score``) of a handoff, an application or the service in general.

    A score that the bot asked for is a row from the moment it is asked (status ``asked``),
    so "asked once, reminded at most once" is a fact in the database, not in memory.
    """

    __tablename__ = "ratings"
    __table_args__ = (
        Index("ix_ratings_entry", "entry_id", "kind"),
        Index("ix_ratings_rated_at", "kind", "rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # helpful | score
    #: faq | handoff | application | service
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    #: "subject_type:subject_id" for ratings the bot asks for: unique, so each is asked once.
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="rated")  # asked | rated
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    entry_id: Mapped[str | None] = mapped_column(String(128))
    question_log_id: Mapped[int | None]
    application_id: Mapped[int | None] = mapped_column(index=True)
    service: Mapped[str | None] = mapped_column(String(128))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    helpful: Mapped[bool | None]
    score: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    rated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    """A complaint (投诉) from receipt to close; ``status`` is the stage, ``due_at`` its deadline."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    #: staff_conduct | delay | wrong_result | system | other
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[list[Any]] = mapped_column(default=list)
    application_id: Mapped[int | None]
    application_ref: Mapped[str | None] = mapped_column(String(128))
    contact_preference: Mapped[str] = mapped_column(String(16), default="chat")  # chat | phone | email
    contact_value: Mapped[str | None] = mapped_column(String(200))
    #: received | assigned | investigating | resolved | follow_up | closed
    status: Mapped[str] = mapped_column(String(16), default="received")
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    due_at: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[datetime | None]
    escalated_to: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    finding: Mapped[str | None] = mapped_column(Text)
    responsible_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    measure: Mapped[str | None] = mapped_column(Text)
    satisfied: Mapped[bool | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    events: Mapped[list["ComplaintEvent"]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id", cascade="all, delete-orphan"
    )


class ComplaintEvent(Base):
    """One step in a complaint's history: who did what, when, from which stage to which."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))  # customer | staff | system
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    #: What the step set: the assignee, or the resolution, finding, responsible staff and measure.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="events")
