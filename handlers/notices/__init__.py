"""Listeners that turn domain events into what a customer reads: stage notices, resolutions,
rating requests, answers to recorded questions. The domain raises the event; the wording, the
buttons and their payloads are decided here, in the dialog layer.

``build_bus()`` is called once by the wiring (bot/app.py); each feature module here has a
``subscribe(bus)`` that names the events it listens to.
"""
from __future__ import annotations

from domain.events import EventBus
from handlers.notices import handoff

#: Modules with a ``subscribe(bus)``; a feature adds its own here.
FEATURES: tuple = (handoff,)


def build_bus() -> EventBus:
    """The event bus with every notice listener subscribed."""
    bus = EventBus()
    for feature in FEATURES:
        feature.subscribe(bus)
    return bus
