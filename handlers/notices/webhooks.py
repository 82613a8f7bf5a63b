"""The outgoing webhooks' listener: every event receivers can subscribe to becomes one delivery
row per interested subscription, in the transaction of the change, with the subject's REST
representation as ``data`` (the same shape ``/api/v1`` answers with; ID and phone numbers masked).

It listens to the base ``Event`` and picks events by their exact ``name``, so a resolution is
sent once as ``complaint.resolved``, not a second time as the ``complaint.stage_changed`` it
also is.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from domain import webhooks
from domain.applications.events import ApplicationEvent
from domain.applications.representation import detail
from domain.complaints.events import ComplaintFiled, ComplaintStageChanged
from domain.complaints.representation import complaint_json
from domain.customers import CustomerErased
from domain.events import Event, EventBus
from domain.handoff.events import HandoffChanged
from domain.handoff.representation import handoff_json
from domain.questions import QuestionUnanswered, question_json
from domain.ratings import RatingGiven, rating_json
from handlers.services import Services
from storage.models import Application, Complaint, HandoffSession, KnowledgeQuestion, Rating

Subject = tuple[str, Callable[[], dict[str, Any]]]


def _subject(session: Session, services: Services, event: Event) -> Subject:
    """Which case the event is about ("application:12"), and how to show it."""
    if isinstance(event, ApplicationEvent):
        app = session.get(Application, event.application_id)
        return f"application:{event.application_id}", lambda: detail(session, services, app, reveal=False)
    if isinstance(event, HandoffChanged):
        return f"handoff:{event.handoff_id}", lambda: handoff_json(session.get(HandoffSession, event.handoff_id))
    if isinstance(event, RatingGiven):
        return f"rating:{event.rating_id}", lambda: rating_json(session.get(Rating, event.rating_id))
    if isinstance(event, QuestionUnanswered):
        return (f"question:{event.question_id}",
                lambda: question_json(session.get(KnowledgeQuestion, event.question_id)))
    if isinstance(event, (ComplaintFiled, ComplaintStageChanged)):
        complaint = session.get(Complaint, event.complaint_id)
        return f"complaint:{event.complaint_id}", lambda: complaint_json(complaint, with_events=True)
    if isinstance(event, CustomerErased):
        return f"customer:{event.record_id}", event.to_json
    raise TypeError(f"no webhook subject for {type(event).__name__}")


def subscribe(bus: EventBus, services: Services) -> None:
    def queue(session: Session, event: Event) -> None:
        if type(event).name in webhooks.EVENT_TYPES:
            subject, data = _subject(session, services, event)
            webhooks.record(session, event.name, subject, data)

    bus.subscribe(Event, queue)
