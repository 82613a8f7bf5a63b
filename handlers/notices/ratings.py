"""The one reminder of an unanswered rating: the question again, with its score buttons."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.events import EventBus
from domain.ratings import RatingReminderDue
from handlers.feedback import rating_question
from handlers.services import Services
from storage.models import Conversation, Rating
from storage.outbox import enqueue


def subscribe(bus: EventBus, services: Services) -> None:
    bus.subscribe(RatingReminderDue, remind)


def remind(session: Session, event: RatingReminderDue) -> None:
    rating = session.get(Rating, event.rating_id)
    conversation = session.get(Conversation, event.conversation_id)
    if rating is None or conversation is None:
        return
    enqueue(session, conversation, [rating_question(rating, event.language, "feedback.remind." + event.subject_type)])
