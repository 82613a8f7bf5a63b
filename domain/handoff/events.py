"""What can happen to a handoff, published inside the transaction that made it happen.

The listeners in ``handlers/notices/handoff.py`` tell the customer (an agent joined, the
conversation went back to the queue, goodbye and a rating request); outgoing webhooks know
the events by ``name``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from domain.events import Event

CloseKind = Literal["closed", "handback", "cancelled"]
#: Why a conversation went back to the queue: given up, left idle, or its agent went off duty.
ReleaseWhy = Literal["released", "idle", "off_duty"]


@dataclass(frozen=True)
class HandoffChanged(Event):
    """Base of the handoff's events: which handoff, in which conversation."""

    handoff_id: int
    conversation_id: int


@dataclass(frozen=True)
class HandoffOpened(HandoffChanged):
    """The conversation joined the staff queue (``after_hours``: recorded for later)."""

    name: ClassVar[str] = "handoff.opened"
    reason: str
    after_hours: bool


@dataclass(frozen=True)
class HandoffTaken(HandoffChanged):
    """An agent claimed the waiting conversation."""

    name: ClassVar[str] = "handoff.taken"
    agent_id: int
    agent_name: str


@dataclass(frozen=True)
class HandoffAnswered(HandoffChanged):
    """An agent's words (and files) went to the customer; ``via`` names where they wrote them
    ("console", or the staff room's channel), so that side is not shown them twice."""

    name: ClassVar[str] = "handoff.answered"
    agent_id: int
    agent_name: str
    text: str
    attachment_ids: tuple[int, ...]
    via: str


@dataclass(frozen=True)
class HandoffTransferred(HandoffChanged):
    """The owner handed the conversation to another agent."""

    name: ClassVar[str] = "handoff.transferred"
    from_agent_id: int | None
    to_agent_id: int
    to_agent_name: str


@dataclass(frozen=True)
class HandoffReleased(HandoffChanged):
    """Back in the queue: the agent gave it up (``why="released"``), left it idle ("idle") or went
    off duty with automatic assignment on ("off_duty")."""

    name: ClassVar[str] = "handoff.released"
    from_agent_id: int | None
    why: ReleaseWhy


@dataclass(frozen=True)
class HandoffClosed(HandoffChanged):
    """The bot serves again: closed, handed back, or cancelled by the waiting customer.

    ``served_by`` is the agent the customer rates (the first responder, else the owner);
    ``answered`` says whether a person answered at all (only then is a rating asked).
    """

    name: ClassVar[str] = "handoff.closed"
    kind: CloseKind
    closed_by: int | None
    served_by: int | None
    answered: bool
