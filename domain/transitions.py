"""The one way the desk's cases change state: a table of named transitions, who may take each,
and one error for a move that is not allowed (the REST API answers it with 409).

Applications and complaints both declare a ``TransitionTable``; a transition says from which
states it may be taken, where it leads, and which kinds of actor may take it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DomainError(Exception):
    """A request about a case that cannot be carried out; the message says why."""


class IllegalTransition(DomainError):
    """The move is not allowed from where the case is (HTTP 409)."""


class InvalidRequest(DomainError):
    """The move is allowed but the request lacks something or names something wrong (HTTP 422)."""


@dataclass(frozen=True)
class Actor:
    """Who changes a case: ``customer``, ``staff`` (with ``staff_id``) or ``system``."""

    kind: str
    name: str = ""
    staff_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind must be one of {ACTOR_KINDS}")


ACTOR_KINDS = ("customer", "staff", "system")
SYSTEM = Actor("system", "system")
STAFF_AND_SYSTEM = frozenset({"staff", "system"})


@dataclass(frozen=True)
class Transition:
    """A named move: allowed from ``sources`` to ``target`` (None: the state stays), taken by ``by``."""

    name: str
    sources: frozenset[str]
    target: str | None
    by: frozenset[str] = STAFF_AND_SYSTEM


class TransitionTable:
    """The moves of one kind of case, looked up by name and checked against state and actor."""

    def __init__(self, subject: str, transitions: Iterable[Transition]) -> None:
        self.subject = subject
        self.by_name = {t.name: t for t in transitions}

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def names(self) -> list[str]:
        return list(self.by_name)

    def allowed(self, state: str, actor_kind: str = "staff") -> list[str]:
        """The moves ``actor_kind`` may take from ``state``, in table order."""
        return [t.name for t in self.by_name.values() if state in t.sources and actor_kind in t.by]

    def check(self, name: str, state: str, actor: Actor, label: str) -> Transition:
        """The transition ``name`` if ``actor`` may take it from ``state``; else ``IllegalTransition``
        naming what is allowed. ``label`` names the case in the message (a reference, a ticket)."""
        transition = self.by_name.get(name)
        if transition is None:
            raise InvalidRequest(f"unknown {self.subject} action {name!r}; choose one of {', '.join(self.by_name)}")
        if state not in transition.sources or actor.kind not in transition.by:
            options = ", ".join(self.allowed(state, actor.kind)) or "none"
            raise IllegalTransition(f"{label} is {state}: '{name}' is not allowed now; allowed: {options}")
        return transition
