"""The complaint's stage machine: which action may be taken from which stage, by whom, and
what each action records.

    received -> assigned -> investigating -> resolved -> follow_up -> closed
                                 ^                            |
                                 +------ reopen (not satisfied)

Every change is a ``ComplaintEvent`` row (who, when, comment) and one domain event
(``events.py``) published in the same transaction; listeners tell the customer.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from domain.complaints.deadlines import escalate, set_deadline
from domain.complaints.events import (
    ComplaintFollowUpAnswered,
    ComplaintFollowUpDue,
    ComplaintResolved,
    ComplaintStageChanged,
)
from domain.settings import DeskServices
from domain.transitions import SYSTEM, Actor, IllegalTransition, InvalidRequest, Transition, TransitionTable
from storage.models import Complaint, ComplaintEvent, Job, StaffUser, utcnow

log = logging.getLogger(__name__)

STATUSES = ("received", "assigned", "investigating", "resolved", "follow_up", "closed")
OPEN_STATUSES = STATUSES[:-1]
_ANYONE = frozenset({"customer", "staff", "system"})

#: ``assign`` keeps the stage once past "received" (a reassignment); see ``_assign``.
LIFECYCLE = TransitionTable("complaint", [
    Transition("assign", frozenset({"received", "assigned", "investigating"}), "assigned"),
    Transition("start", frozenset({"assigned"}), "investigating"),
    Transition("resolve", frozenset({"investigating"}), "resolved"),
    Transition("follow_up", frozenset({"resolved"}), "follow_up"),
    Transition("close", frozenset({"follow_up"}), "closed", _ANYONE),
    Transition("reopen", frozenset({"resolved", "follow_up"}), "investigating", _ANYONE),
])
_FIELDS = frozenset({"staff_id", "resolution", "finding", "responsible_staff_id", "measure"})


def check(complaint: Complaint, action: str, actor: Actor) -> Transition:
    """The transition ``action`` if ``actor`` may take it now; else ``IllegalTransition`` saying from
    which stages it is allowed and what is allowed now, or ``InvalidRequest`` for an unknown action."""
    label = f"complaint {complaint.ticket}"
    move = LIFECYCLE.by_name.get(action)
    if move is not None and complaint.status not in move.sources:
        allowed = ", ".join(LIFECYCLE.allowed(complaint.status, actor.kind)) or "none"
        raise IllegalTransition(f"{label} is {complaint.status}: '{action}' is allowed only when it is "
                                f"{' or '.join(sorted(move.sources))}; allowed now: {allowed}")
    return LIFECYCLE.check(action, complaint.status, actor, label)


def transition(
    session: Session,
    services: DeskServices,
    complaint: Complaint,
    action: str,
    actor: Actor,
    comment: str | None = None,
    **fields: Any,
) -> ComplaintEvent:
    """Apply ``action`` (see ``LIFECYCLE``) or raise ``IllegalTransition`` / ``InvalidRequest``.

    ``assign`` takes ``staff_id``; ``resolve`` takes ``resolution`` (sent to the customer) and
    optionally ``finding``, ``responsible_staff_id`` and ``measure`` (责任追究).
    """
    move = check(complaint, action, actor)
    unknown = set(fields) - _FIELDS
    if unknown:
        raise InvalidRequest(f"'{action}' does not take {', '.join(sorted(unknown))}")
    apply = _APPLY.get(action)
    details = apply(session, complaint, actor, fields) if apply else {}
    reassigned = action == "assign" and complaint.status != "received"
    target = complaint.status if reassigned else move.target or complaint.status
    now = utcnow()
    row = ComplaintEvent(complaint_id=complaint.id, action=action, from_status=complaint.status, to_status=target,
                         actor=actor.kind, staff_id=actor.staff_id, comment=(comment or "").strip() or None,
                         details=details, created_at=now)
    session.add(row)
    previous = complaint.status
    complaint.status, complaint.updated_at = target, now
    if target != previous:
        complaint.overdue = False
        set_deadline(session, services.settings, complaint, now, previous)
    services.events.publish(session, _event(complaint, action, previous, actor))
    log.info("complaint %s: %s by %s -> %s", complaint.ticket, action, actor.kind, target)
    return row


def _assign(session: Session, complaint: Complaint, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    """A (re)assignment; to the person already handling it changes nothing and is refused."""
    staff = _staff(session, fields.get("staff_id"), "staff_id")
    if complaint.assigned_to == staff.id:
        raise IllegalTransition(f"complaint {complaint.ticket} is already assigned to {staff.display_name}")
    complaint.assigned_to = staff.id
    return {"staff_id": complaint.assigned_to}


def _resolve(session: Session, complaint: Complaint, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    # Check everything before changing anything: a refused request leaves no trace.
    resolution = (fields.get("resolution") or "").strip()
    if not resolution:
        raise InvalidRequest("'resolve' needs the resolution that is sent to the customer")
    responsible = None
    if fields.get("responsible_staff_id") is not None:
        responsible = _staff(session, fields["responsible_staff_id"], "responsible_staff_id",
                             must_be_active=False).id
    complaint.resolution, complaint.responsible_staff_id = resolution, responsible
    complaint.finding = (fields.get("finding") or "").strip() or None
    complaint.measure = (fields.get("measure") or "").strip() or None
    complaint.resolved_at = utcnow()
    return {"resolution": complaint.resolution, "finding": complaint.finding,
            "responsible_staff_id": complaint.responsible_staff_id, "measure": complaint.measure}


def _close(session: Session, complaint: Complaint, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    """The customer's "satisfied" closes; staff may close only once the follow-up's time limit has
    passed unanswered, recorded as no answer: the follow-up visit (回访) cannot be skipped."""
    now = utcnow()
    if actor.kind == "customer":
        complaint.closed_at, complaint.satisfied = now, True
        return {}
    if complaint.due_at is not None and complaint.due_at > now:
        raise IllegalTransition(f"complaint {complaint.ticket} waits for the customer's answer to the follow-up "
                                f"until {complaint.due_at:%Y-%m-%d %H:%M} UTC; it may be closed without one after that")
    complaint.closed_at = now
    return {"follow_up": "no_answer"}


def _reopen(session: Session, complaint: Complaint, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    complaint.reopen_count += 1
    complaint.resolved_at = None
    if actor.kind == "customer":
        complaint.satisfied = False
    return {}


#: What an action records on the complaint besides its stage; returns the history row's details.
_APPLY: dict[str, Callable[[Session, Complaint, Actor, dict[str, Any]], dict[str, Any]]] = {
    "assign": _assign, "resolve": _resolve, "close": _close, "reopen": _reopen,
}


def _staff(session: Session, staff_id: object, field_name: str, must_be_active: bool = True) -> StaffUser:
    if not isinstance(staff_id, int):
        raise InvalidRequest(f"{field_name} must be a staff member's id")
    staff = session.get(StaffUser, staff_id)
    if staff is None or (must_be_active and not staff.active):
        raise InvalidRequest(f"{field_name} {staff_id} is not an active staff member")
    return staff


def _event(complaint: Complaint, action: str, previous: str, actor: Actor) -> ComplaintStageChanged:
    """The most specific event of this change (a customer's answer, a resolution, a follow-up)."""
    common = dict(complaint_id=complaint.id, ticket=complaint.ticket, action=action, from_status=previous,
                  to_status=complaint.status, actor_kind=actor.kind, staff_id=actor.staff_id)
    if actor.kind == "customer":
        return ComplaintFollowUpAnswered(**common, satisfied=action == "close")
    if action == "resolve":
        return ComplaintResolved(**common, resolution=complaint.resolution or "")
    if action == "follow_up":
        return ComplaintFollowUpDue(**common)
    return ComplaintStageChanged(**common)


def run_deadline(session: Session, job: Job, services: DeskServices) -> None:
    """Job ``complaint.deadline``: the stage named in the job is past its deadline. The resolved
    stage's deadline is the follow-up visit; any other stage is escalated (once)."""
    complaint = session.get(Complaint, job.payload.get("complaint_id"))
    if complaint is None or complaint.status != job.payload.get("status") or complaint.due_at is None:
        return  # the complaint moved on since the job was set
    if complaint.due_at > utcnow():
        return
    if complaint.status == "resolved":
        transition(session, services, complaint, "follow_up", SYSTEM)
    elif not complaint.overdue:
        escalate(session, complaint)
