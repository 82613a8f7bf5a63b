"""Listeners that turn domain events into what a customer reads: stage notices, resolutions,
rating requests, answers to recorded questions. The domain raises the event; the wording, the
buttons and their payloads are decided here, in the dialog layer.

``build_bus(services)`` is called once by the wiring (bot/app.py); each feature module here has
a ``subscribe(bus, services)`` that names the events it listens to (``services`` gives its
listeners the settings and notifiers they deliver with).
"""
from __future__ import annotations

from domain.events import EventBus
from handlers.notices import applications, complaints, handoff, privacy, questions, ratings, staff_room, webhooks
from handlers.services import Services

#: Modules with a ``subscribe(bus, services)``; a feature adds its own here.
FEATURES: tuple = (applications, complaints, handoff, ratings, questions, privacy, staff_room, webhooks)


def build_bus(services: Services) -> EventBus:
    """The event bus with every notice listener subscribed."""
    bus = EventBus()
    for feature in FEATURES:
        feature.subscribe(bus, services)
    return bus
