"""Domain events: what happened to a case, raised inside the transaction that made it happen.

The domain never decides what a customer reads. It publishes an event (an application's stage
changed, a complaint was resolved, a handoff closed ...) on the ``EventBus`` it was handed; the
listeners (``handlers/notices/``) turn it into replies, rating requests or outgoing webhooks.
Listeners run at once, in the publisher's transaction, so a notice is queued exactly when the
change commits and vanishes with it when it rolls back.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every domain event; ``name`` is the stable dotted name others rely on."""

    name: ClassVar[str] = ""


E = TypeVar("E", bound=Event)
Listener = Callable[[Session, E], None]


class EventBus:
    """Listeners by event type, called in order of subscription, in the caller's transaction."""

    def __init__(self) -> None:
        self._listeners: dict[type[Event], list[Callable[[Session, Event], None]]] = defaultdict(list)

    def subscribe(self, event_type: type[E], listener: Callable[[Session, E], None]) -> None:
        self._listeners[event_type].append(listener)  # type: ignore[arg-type]

    def publish(self, session: Session, event: Event) -> None:
        """Run every listener of ``event``'s type (and of its base types). A listener that raises
        rolls the whole change back with it: a notice that cannot be queued is a failed change."""
        for event_type in type(event).__mro__:
            for listener in self._listeners.get(event_type, ()):  # type: ignore[arg-type]
                listener(session, event)

    def listeners(self, event_type: type[Event]) -> list[Callable[[Session, Event], None]]:
        return list(self._listeners.get(event_type, ()))
