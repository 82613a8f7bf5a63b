"""Labels staff give the knowledge base's answers: "this question is answered by that entry" (or by
none), from the console's "try a question", an agent sending an entry's answer during a handoff,
and staff answering recorded questions with an entry.

Customers' own labels are already stored elsewhere and are not copied here: a "did you mean" pick
is ``knowledge_questions.chosen_entry_id``, a helpful / not helpful vote a ``ratings`` row of kind
``helpful`` (domain/labels.py reads all of them as one list). Entry ids and question ids are plain
columns: a label outlives an edited knowledge file or a purged question.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class KnowledgeLabel(Base):
    __tablename__ = "knowledge_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    #: the entry that answers the question; None: no entry of the knowledge answers it
    entry_id: Mapped[str | None] = mapped_column(String(128))
    #: try | handoff | staff_answer
    source: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    question_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
