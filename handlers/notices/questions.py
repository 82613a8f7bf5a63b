"""A staff answer to a recorded question, sent to the conversation where it was asked."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.events import EventBus
from domain.questions import QuestionAnswered
from handlers.i18n import t
from handlers.messages import Reply
from handlers.services import Services
from storage.models import Conversation, KnowledgeQuestion
from storage.outbox import enqueue


def subscribe(bus: EventBus, services: Services) -> None:
    bus.subscribe(QuestionAnswered, send_answer)


def send_answer(session: Session, event: QuestionAnswered) -> None:
    q = session.get(KnowledgeQuestion, event.question_id)
    conv = session.get(Conversation, event.conversation_id) if event.conversation_id else None
    if q is None or conv is None:
        return
    lang = q.lang or conv.language or "zh"
    enqueue(session, conv, [Reply(t("faq.staff_answer", lang, question=q.text, answer=q.staff_answer))],
            sender="staff", staff_id=event.staff_id)
