"""The stage machine of an application, as one transition table (domain/transitions.py).

    draft -> received (受理) -> [correction_requested (补正) -> resubmitted] -> initial_review (初审)
      -> secondary_review (复审, only for services that need it) -> approval (审批)
      -> approved -> processing (办理) -> completed (办结)          | rejected | withdrawn

Each move is named by the stage it leads to. Staff (or a back-office system) take the review
moves; only the customer submits and resubmits; anyone may withdraw an open application.
Whether the secondary review is taken depends on the service, so it is checked beside the table.
"""
from __future__ import annotations

from domain.transitions import STAFF_AND_SYSTEM, Actor, IllegalTransition, InvalidRequest, Transition, TransitionTable
from storage.models import Application

STAGES = ("draft", "received", "correction_requested", "resubmitted", "initial_review", "secondary_review",
          "approval", "approved", "rejected", "processing", "completed", "withdrawn")
TERMINAL = frozenset({"completed", "rejected", "withdrawn"})
#: Submitted and not closed: the time limit runs (or is paused for a correction).
OPEN_STAGES = frozenset(STAGES) - TERMINAL - {"draft"}

_CUSTOMER = frozenset({"customer"})
_ANYONE = STAFF_AND_SYSTEM | _CUSTOMER
_REVIEWED = frozenset({"received", "resubmitted", "initial_review", "secondary_review"})

TABLE = TransitionTable("application", [
    Transition("received", frozenset({"draft"}), "received", _CUSTOMER),
    Transition("correction_requested", _REVIEWED, "correction_requested"),
    Transition("resubmitted", frozenset({"correction_requested"}), "resubmitted", _CUSTOMER),
    Transition("initial_review", frozenset({"received", "resubmitted"}), "initial_review"),
    Transition("secondary_review", frozenset({"initial_review"}), "secondary_review"),
    Transition("approval", frozenset({"initial_review", "secondary_review"}), "approval"),
    Transition("approved", frozenset({"approval"}), "approved"),
    Transition("rejected", frozenset({"approval"}), "rejected"),
    Transition("processing", frozenset({"approved"}), "processing"),
    Transition("completed", frozenset({"processing"}), "completed"),
    Transition("withdrawn", _REVIEWED | {"correction_requested", "approval"}, "withdrawn", _ANYONE),
])


def allowed_next(app: Application, actor_kind: str = "staff") -> list[str]:
    """Where ``actor_kind`` may move the application now (for buttons and error messages)."""
    options = set(TABLE.allowed(app.stage, actor_kind))
    if app.stage == "initial_review":
        options.discard("approval" if app.needs_secondary_review else "secondary_review")
    return [s for s in STAGES if s in options]


def customer_may_withdraw(app: Application) -> bool:
    return "withdrawn" in allowed_next(app, "customer")


def check_move(app: Application, to: str, actor: Actor) -> None:
    """Refuse a move the table (or the service's review path) does not allow, naming what is."""
    if to not in TABLE:
        raise InvalidRequest(f"unknown stage {to!r}; stages are {', '.join(STAGES[1:])}")
    move = TABLE.by_name[to]
    if actor.kind not in move.by:
        raise IllegalTransition(f"only the customer moves an application to {to!r}, in the chat"
                                if move.by == _CUSTOMER else f"only staff move an application to {to!r}")
    if app.stage not in move.sources:
        options = ", ".join(allowed_next(app, actor.kind)) or "none (it is closed)"
        raise IllegalTransition(f"{app.reference or app.id} cannot go from {app.stage} to {to}; "
                                f"allowed next: {options}")
    if app.stage == "initial_review" and to == "secondary_review" and not app.needs_secondary_review:
        raise IllegalTransition(f"{app.reference}: this service has no secondary review; move it to approval")
    if app.stage == "initial_review" and to == "approval" and app.needs_secondary_review:
        raise IllegalTransition(f"{app.reference}: this service needs the secondary review (复审) before approval")
