"""What the customer reads when staff act on their handoff: an agent joined or took over, the
conversation is back in the queue, goodbye with the menu, and (when a person answered) the
rating request. The domain publishes the events (domain/handoff/events.py); the wording and
the buttons are decided here, and queued in the outbox of the same transaction."""
from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from domain.events import EventBus
from domain.handoff import HandoffChanged, HandoffClosed, HandoffReleased, HandoffTaken, HandoffTransferred
from handlers.base import menu_buttons
from handlers.feedback import request_rating
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.services import Services
from storage.models import Conversation
from storage.outbox import enqueue


def _conversation(session: Session, event: HandoffChanged) -> Conversation:
    conversation = session.get(Conversation, event.conversation_id)
    assert conversation is not None
    return conversation


def _lang(conversation: Conversation, services: Services) -> str:
    return conversation.language or services.settings.default_language


def _tell(session: Session, services: Services, event: HandoffChanged, key: str,
          buttons: list[Button] | None = None, **values: object) -> None:
    conversation = _conversation(session, event)
    enqueue(session, conversation, [Reply(t(key, _lang(conversation, services), **values), buttons or [])])


def agent_joined(session: Session, event: HandoffTaken, *, services: Services) -> None:
    _tell(session, services, event, "handoff.agent_joined", name=event.agent_name)


def transferred(session: Session, event: HandoffTransferred, *, services: Services) -> None:
    _tell(session, services, event, "handoff.transferred", name=event.to_agent_name)


def requeued(session: Session, event: HandoffReleased, *, services: Services) -> None:
    _tell(session, services, event, "handoff.requeued")


def closed(session: Session, event: HandoffClosed, *, services: Services) -> None:
    """Goodbye with the menu; a customer whom a person answered is asked to rate the help.
    A customer who cancelled waiting hears from the turn that cancelled (handlers/handoff.py)."""
    if event.kind == "cancelled":
        return
    conversation = _conversation(session, event)
    _tell(session, services, event, f"handoff.{event.kind}_bye", menu_buttons(_lang(conversation, services)))
    if event.answered:
        enqueue(session, conversation, request_rating(session, conversation, "handoff", event.handoff_id,
                                                      event.served_by, settings=services.settings))


def subscribe(bus: EventBus, services: Services) -> None:
    bus.subscribe(HandoffTaken, partial(agent_joined, services=services))
    bus.subscribe(HandoffTransferred, partial(transferred, services=services))
    bus.subscribe(HandoffReleased, partial(requeued, services=services))
    bus.subscribe(HandoffClosed, partial(closed, services=services))
