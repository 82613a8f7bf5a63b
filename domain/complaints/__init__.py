"""Complaints (投诉) from receipt to close, platform-free: the chat handler, the REST API, the
console and the deadline job all change a complaint only through this package.

``tickets`` files and finds complaints, ``lifecycle`` is the stage machine (a transition table),
``deadlines`` the stage deadlines and escalation, ``figures`` the dashboard's numbers, and
``events`` what listeners hear. Each stage has a deadline from the settings; a job flags the
complaint overdue and escalates it to a supervisor when it passes, except after the resolution,
where the deadline is the moment of the follow-up visit (回访).
"""
from domain.complaints.deadlines import JOB_DEADLINE, deadline_key, escalate, overdue_filter, stage_hours
from domain.complaints.events import (
    ComplaintFiled,
    ComplaintFollowUpAnswered,
    ComplaintFollowUpDue,
    ComplaintResolved,
    ComplaintStageChanged,
)
from domain.complaints.figures import stats
from domain.complaints.lifecycle import LIFECYCLE, OPEN_STATUSES, STATUSES, check, run_deadline, transition
from domain.complaints.tickets import (
    CATEGORIES,
    CONTACTS,
    awaiting_follow_up,
    create,
    customer_complaints,
    find_for_customer,
    get_by_ticket,
    normalize_ticket,
)
from domain.transitions import SYSTEM, Actor, DomainError, IllegalTransition, InvalidRequest

__all__ = [
    "CATEGORIES", "CONTACTS", "JOB_DEADLINE", "LIFECYCLE", "OPEN_STATUSES", "STATUSES", "SYSTEM",
    "Actor", "ComplaintFiled", "ComplaintFollowUpAnswered", "ComplaintFollowUpDue", "ComplaintResolved",
    "ComplaintStageChanged", "DomainError", "IllegalTransition", "InvalidRequest",
    "awaiting_follow_up", "check", "create", "customer_complaints", "deadline_key", "escalate", "find_for_customer", "get_by_ticket",
    "normalize_ticket", "overdue_filter", "run_deadline", "stage_hours", "stats", "transition",
]
