"""Labels staff give the knowledge base's answers: "this question is answered by that entry" (or by
none), from the console's "try a question", an agent sending an entry's answer during a handoff,
and staff answering recorded questions with an entry.

Customers' own labels are already stored elsewhere and are not copied here: a "did you mean" pick
is ``knowledge_questions.chosen_entry_id``, a helpful / not helpful vote a ``ratings`` row of kind
``helpful`` (domain/labels.py reads all of them as one list). The entry id is a plain column: a
label outlives an edited knowledge file.
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
    #: whose words ``text`` is when a customer's (a handoff's question): found by a person's export or erasure
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
