"""Recorded questions: what the FAQ could not answer waits here for a staff answer, and the
customer who asked is told it later (a ``QuestionAnswered`` event; handlers/notices/questions.py
words and queues it). The console calls these when staff answer or add an entry."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.events import Event, EventBus
from knowledge import Entry, answer_text
from knowledge.normalize import normalize
from storage.models import KnowledgeQuestion, utcnow


@dataclass(frozen=True)
class QuestionAnswered(Event):
    """Staff answered a recorded question; the customer who asked is to be sent the answer."""

    name: ClassVar[str] = "question.answered"
    question_id: int
    conversation_id: int | None
    staff_id: int | None


@dataclass(frozen=True)
class QuestionUnanswered(Event):
    """A customer's question could not be answered and waits for staff (it is recorded open)."""

    name: ClassVar[str] = "question.unanswered"
    question_id: int
    conversation_id: int | None


def record_asked(session: Session, events: EventBus, question: KnowledgeQuestion) -> KnowledgeQuestion:
    """Store what a customer asked and how the FAQ decided; one left open waits for staff."""
    session.add(question)
    session.flush()
    if question.status == "open":
        events.publish(session, QuestionUnanswered(question.id, question.conversation_id))
    return question


def leave_open(session: Session, events: EventBus, question: KnowledgeQuestion) -> None:
    """A question first met with suggestions, none of which fitted: it now waits for staff."""
    if question.status is None:
        question.status = "open"
        events.publish(session, QuestionUnanswered(question.id, question.conversation_id))


def question_json(question: KnowledgeQuestion) -> dict[str, Any]:
    """A recorded question as the back office sees it (the outgoing webhooks' ``data``)."""
    return {
        "id": question.id, "conversation_id": question.conversation_id, "customer_id": question.customer_id,
        "text": question.text, "language": question.lang, "decision": question.decision,
        "confidence": question.confidence, "top_entry_id": question.top_entry_id, "status": question.status,
        "staff_answer": question.staff_answer, "answered_at": question.answered_at,
        "created_at": question.created_at,
    }


def unanswered(session: Session, limit: int = 100) -> list[KnowledgeQuestion]:
    """The recorded questions still waiting for a staff answer, oldest first."""
    stmt = (select(KnowledgeQuestion).where(KnowledgeQuestion.status == "open")
            .order_by(KnowledgeQuestion.created_at, KnowledgeQuestion.id).limit(limit))
    return list(session.scalars(stmt))


def answer_recorded(session: Session, events: EventBus, question_id: int, answer: str, staff_id: int | None = None,
                    entry_id: str | None = None) -> KnowledgeQuestion:
    """Staff answer a recorded question: store the answer and publish ``QuestionAnswered``.

    `entry_id` names the knowledge entry that would have been right, for learning.
    """
    q = session.get(KnowledgeQuestion, question_id)
    if q is None:
        raise LookupError(f"no recorded question {question_id}")
    if q.status == "answered":
        raise ValueError(f"question {question_id} was already answered")
    if not answer.strip():
        raise ValueError("the answer is empty")
    q.staff_answer = answer.strip()
    q.answered_by = staff_id
    q.answered_at = utcnow()
    q.status = "answered"
    if entry_id:
        q.chosen_entry_id = entry_id
    events.publish(session, QuestionAnswered(q.id, q.conversation_id, staff_id))
    return q


def wording(text: str) -> str:
    """A question's wording, not its punctuation or spacing."""
    return re.sub(r"[^\w]+", "", normalize(text))


def answer_open_questions(session: Session, events: EventBus, texts: list[str], answer: str,
                          staff_id: int | None = None, entry_id: str | None = None) -> list[KnowledgeQuestion]:
    """A new entry answers recorded questions worded like its question or alternates: each
    customer who asked one is sent the answer (the console calls this when it saves an entry)."""
    return [answer_recorded(session, events, q.id, answer, staff_id, entry_id) for q in _waiting(session, texts)]


def answer_with_entry(session: Session, events: EventBus, text: str, entry: Entry,
                      staff_id: int | None = None) -> list[KnowledgeQuestion]:
    """Staff point at an existing entry for a waiting question: each customer who asked it (worded
    alike) is sent the entry's answer in their language, and the question is labelled with the entry."""
    return [answer_recorded(session, events, q.id, answer_text(entry, q.lang), staff_id, entry.id)
            for q in _waiting(session, [text])]


def _waiting(session: Session, texts: list[str]) -> list[KnowledgeQuestion]:
    """The waiting questions worded like one of `texts`."""
    wanted = {wording(text) for text in texts if text and text.strip()}
    return [q for q in unanswered(session, limit=10_000) if wording(q.text) in wanted]
