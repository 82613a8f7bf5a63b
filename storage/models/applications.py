"""Applications (业务申请): the case, its materials, every stage change, deadline extensions,
and the audit of staff looking at a case's files. Foreign keys point at core tables only."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Application(Base):
    """One application. A draft (stage ``draft``) has no reference number yet; submitting gives it one."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_stage_due", "stage", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: SHA-256 of reference + check code; the code itself is shown to the customer once.
    check_code_hash: Mapped[str | None] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    #: The service's names when submitted, so a later edit or removal of its file keeps old cases readable.
    service_name: Mapped[dict[str, Any]] = mapped_column(default=dict)
    needs_secondary_review: Mapped[bool] = mapped_column(default=False)
    time_limit_days: Mapped[int] = mapped_column(default=0)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: The chat the customer used; notifications go there.
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    email: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    #: The last working day of the time limit (local date) and the instant it ends; None while paused.
    due_date: Mapped[date | None]
    due_at: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(default=False)
    #: The open correction request: [{"material": id, "note": text}].
    correction_items: Mapped[list[Any]] = mapped_column(default=list)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    remedy: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class ApplicationItem(Base):
    """One material: an uploaded file or a typed value.

    ``status`` is ``current`` (what staff review), ``pending`` (a correction not yet
    resubmitted) or ``superseded`` (replaced by a correction, kept for the record).
    """

    __tablename__ = "application_items"
    __table_args__ = (Index("ix_application_items_app_material", "application_id", "material_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    material_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # file | text
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    value: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="current")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationTransition(Base):
    """One stage change: who, when, from, to, and why."""

    __tablename__ = "application_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    actor_kind: Mapped[str] = mapped_column(String(16))  # customer | staff | system
    actor_name: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApplicationExtension(Base):
    """A time-limit extension; its reason is told to the customer."""

    __tablename__ = "application_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    old_due_date: Mapped[date | None]
    new_due_date: Mapped[date]
    actor_name: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileAccess(Base):
    """A staff member viewed or downloaded one of a case's files."""

    __tablename__ = "application_file_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("application_items.id", ondelete="SET NULL"))
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"))
    action: Mapped[str] = mapped_column(String(16))  # view | download
    actor_name: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    via: Mapped[str] = mapped_column(String(16))  # api | console | cli
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
