"""What happens to a complaint, as domain events (their ``name`` is the outgoing webhook type).

Every stage change publishes one ``ComplaintStageChanged``, or the more specific kind of it:
a resolution, the follow-up visit falling due, or the customer's answer to it. Listeners
(handlers/notices/complaints.py) decide what the customer reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.events import Event


@dataclass(frozen=True)
class ComplaintFiled(Event):
    """A customer filed a complaint (投诉受理); it has its ticket number and first deadline."""

    name: ClassVar[str] = "complaint.filed"
    complaint_id: int
    ticket: str
    category: str


@dataclass(frozen=True)
class ComplaintStageChanged(Event):
    """A lifecycle action was taken (``to_status`` may equal ``from_status``: a reassignment)."""

    name: ClassVar[str] = "complaint.stage_changed"
    complaint_id: int
    ticket: str
    action: str
    from_status: str
    to_status: str
    actor_kind: str
    staff_id: int | None


@dataclass(frozen=True)
class ComplaintResolved(ComplaintStageChanged):
    """Staff resolved the complaint; ``resolution`` is what the customer is to be told."""

    name: ClassVar[str] = "complaint.resolved"
    resolution: str


@dataclass(frozen=True)
class ComplaintFollowUpDue(ComplaintStageChanged):
    """The follow-up visit (回访) starts: the customer is to be asked whether they are satisfied."""

    name: ClassVar[str] = "complaint.follow_up_due"


@dataclass(frozen=True)
class ComplaintFollowUpAnswered(ComplaintStageChanged):
    """The customer answered the follow-up: satisfied closes, not satisfied reopens."""

    name: ClassVar[str] = "complaint.follow_up_answered"
    satisfied: bool
