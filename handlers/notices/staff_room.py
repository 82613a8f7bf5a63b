"""The staff room follows every handoff: a thread opens (with its header) when a conversation is
handed to staff, shows who took, transferred or gave it up and what the console answered, and
closes when the handoff ends. Nothing happens without a staff room (``Services.staff_room``)."""
from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from domain.events import EventBus
from domain.handoff import (
    HandoffAnswered,
    HandoffChanged,
    HandoffClosed,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    HandoffTransferred,
    topic_of,
)
from handlers.i18n import t
from handlers.services import Services
from handlers.staff_room import change, open_topic, post, topic_of_conversation
from storage.models import Attachment, Conversation, HandoffSession


def _conversation(session: Session, event: HandoffChanged) -> Conversation:
    conversation = session.get(Conversation, event.conversation_id)
    assert conversation is not None
    return conversation


def opened(session: Session, event: HandoffOpened, *, services: Services) -> None:
    handoff_row = session.get(HandoffSession, event.handoff_id)
    if services.staff_room is not None and handoff_row is not None:
        open_topic(session, services, services.staff_room, _conversation(session, event), handoff_row)


def _line(session: Session, services: Services, event: HandoffChanged, key: str, **values: object) -> None:
    topic = topic_of_conversation(session, services, _conversation(session, event))
    if topic is not None and services.staff_room is not None:
        post(session, services.staff_room, topic, t(key, services.settings.default_language, **values))


def taken(session: Session, event: HandoffTaken, *, services: Services) -> None:
    _line(session, services, event, "staff_room.taken", name=event.agent_name)


def transferred(session: Session, event: HandoffTransferred, *, services: Services) -> None:
    _line(session, services, event, "staff_room.transferred", name=event.to_agent_name)


def released(session: Session, event: HandoffReleased, *, services: Services) -> None:
    _line(session, services, event, f"staff_room.released.{event.why}")


def answered(session: Session, event: HandoffAnswered, *, services: Services) -> None:
    """What an agent sent from elsewhere (the console) shows in the thread too."""
    room = services.staff_room
    if room is None or event.via == room.channel:
        return
    topic = topic_of_conversation(session, services, _conversation(session, event))
    if topic is not None:
        files = [a for a in (session.get(Attachment, i) for i in event.attachment_ids) if a is not None]
        text = t("staff_room.agent_says", services.settings.default_language, name=event.agent_name,
                 text=event.text) if event.text else ""
        post(session, room, topic, text, files, sender="staff")


def closed(session: Session, event: HandoffClosed, *, services: Services) -> None:
    """The handoff ended: say how, then close the thread (it reopens on the next handoff)."""
    room = services.staff_room
    if room is None:
        return
    conversation = _conversation(session, event)
    topic = topic_of(session, room.room, conversation.customer_id)
    if topic is None or topic.closed:
        return
    post(session, room, topic, t(f"staff_room.closed.{event.kind}", services.settings.default_language))
    change(session, room, topic, "close")
    topic.closed = True


def subscribe(bus: EventBus, services: Services) -> None:
    bus.subscribe(HandoffOpened, partial(opened, services=services))
    bus.subscribe(HandoffTaken, partial(taken, services=services))
    bus.subscribe(HandoffTransferred, partial(transferred, services=services))
    bus.subscribe(HandoffReleased, partial(released, services=services))
    bus.subscribe(HandoffAnswered, partial(answered, services=services))
    bus.subscribe(HandoffClosed, partial(closed, services=services))
