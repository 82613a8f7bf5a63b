"""What customers asked the knowledge base: every question with its hits and decision.

Declined questions form the unanswered list; staff answer them in the console
and the customer who asked is sent that answer. Rows where the customer
picked a "did you mean" entry, or where staff named the right entry, are the
corrections the retriever can learn from.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class KnowledgeQuestion(Base):
    __tablename__ = "knowledge_questions"
    __table_args__ = (Index("ix_knowledge_questions_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(16))  # answer | suggest | decline
    confidence: Mapped[float]
    top_entry_id: Mapped[str | None] = mapped_column(String(128))
    #: [{"entry_id", "score"}] best first, as ranked when asked
    hits: Mapped[list[Any]] = mapped_column(default=list)
    #: the entry the customer picked from "did you mean", or staff named as the right one
    chosen_entry_id: Mapped[str | None] = mapped_column(String(128))
    #: unanswered list: open (waiting for staff) | answered | dismissed; None when the bot answered
    status: Mapped[str | None] = mapped_column(String(16))
    staff_answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
