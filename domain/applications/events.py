"""What can happen to an application, as events raised inside the transaction that made it happen.

The listeners (handlers/notices/applications.py) decide what the customer reads. A stage change
publishes ONE event, of the most specific type that fits: submitted, correction requested,
completed, else ``ApplicationStageChanged``. They share the base ``StageEvent``, so a listener
of ``StageEvent`` hears every move (after the listeners of the specific type). ``name`` is the
outgoing webhook type.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from domain.events import Event


@dataclass(frozen=True, kw_only=True)
class ApplicationEvent(Event):
    application_id: int
    reference: str


@dataclass(frozen=True, kw_only=True)
class StageEvent(ApplicationEvent):
    """The application moved from one stage to another; ``actor_kind`` says who moved it."""

    from_stage: str
    to_stage: str
    actor_kind: str
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class ApplicationStageChanged(StageEvent):
    """A move with no event of its own (into review, approval, processing; rejected, withdrawn)."""

    name: ClassVar[str] = "application.stage_changed"


@dataclass(frozen=True, kw_only=True)
class ApplicationSubmitted(StageEvent):
    """A complete draft became a received application (受理)."""

    name: ClassVar[str] = "application.submitted"


@dataclass(frozen=True, kw_only=True)
class ApplicationCorrectionRequested(StageEvent):
    """Staff asked for the named materials (补正), all in one request."""

    name: ClassVar[str] = "application.correction_requested"
    materials: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ApplicationCompleted(StageEvent):
    """The application is done (办结), with its follow-up instructions."""

    name: ClassVar[str] = "application.completed"
    follow_up: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApplicationExtended(ApplicationEvent):
    """The time limit was extended by working days; the reason is told to the customer."""

    name: ClassVar[str] = "application.extended"
    days: int
    reason: str
    old_due_date: date
    new_due_date: date
