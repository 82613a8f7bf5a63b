"""What the customer reads when staff act on their handoff: an agent joined or took over, the
conversation is back in the queue, goodbye with the menu, and (when a person answered) the
rating request. The domain publishes the events (domain/handoff/events.py); the wording and
the buttons are decided here, and queued in the outbox of the same transaction."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.events import EventBus
from domain.handoff import HandoffChanged, HandoffClosed, HandoffReleased, HandoffTaken, HandoffTransferred
from handlers.base import menu_buttons
from handlers.feedback import request_rating
from handlers.i18n import t
from handlers.messages import Button, Reply
from storage.models import Conversation
from storage.outbox import enqueue


def _conversation(session: Session, event: HandoffChanged) -> Conversation:
    conversation = session.get(Conversation, event.conversation_id)
    assert conversation is not None
    return conversation


def _lang(conversation: Conversation, event: HandoffChanged) -> str:
    return conversation.language or event.settings.default_language


def _tell(session: Session, event: HandoffChanged, key: str, buttons: list[Button] | None = None,
          **values: object) -> None:
    conversation = _conversation(session, event)
    enqueue(session, conversation, [Reply(t(key, _lang(conversation, event), **values), buttons or [])])


def agent_joined(session: Session, event: HandoffTaken) -> None:
    _tell(session, event, "handoff.agent_joined", name=event.agent_name)


def transferred(session: Session, event: HandoffTransferred) -> None:
    _tell(session, event, "handoff.transferred", name=event.to_agent_name)


def requeued(session: Session, event: HandoffReleased) -> None:
    _tell(session, event, "handoff.requeued")


def closed(session: Session, event: HandoffClosed) -> None:
    """Goodbye with the menu; a customer whom a person answered is asked to rate the help.
    A customer who cancelled waiting hears from the turn that cancelled (handlers/handoff.py)."""
    if event.kind == "cancelled":
        return
    conversation = _conversation(session, event)
    _tell(session, event, f"handoff.{event.kind}_bye", menu_buttons(_lang(conversation, event)))
    if event.answered:
        enqueue(session, conversation, request_rating(session, conversation, "handoff", event.handoff_id,
                                                      event.served_by, settings=event.settings))


def subscribe(bus: EventBus) -> None:
    bus.subscribe(HandoffTaken, agent_joined)
    bus.subscribe(HandoffTransferred, transferred)
    bus.subscribe(HandoffReleased, requeued)
    bus.subscribe(HandoffClosed, closed)
