"""The REST representation of a complaint (``/api/v1/complaints``), shared by the API and the
outgoing webhooks' ``data``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import Complaint, ComplaintEvent, utcnow


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def complaint_json(complaint: Complaint, with_events: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ticket": complaint.ticket,
        "status": complaint.status,
        "category": complaint.category,
        "description": complaint.description,
        "attachment_ids": complaint.attachment_ids,
        "application_id": complaint.application_id,
        "application_ref": complaint.application_ref,
        "contact_preference": complaint.contact_preference,
        "contact_value": complaint.contact_value,
        "customer_id": complaint.customer_id,
        "conversation_id": complaint.conversation_id,
        "assigned_to": complaint.assigned_to,
        "due_at": _when(complaint.due_at),
        "overdue": complaint.overdue or (complaint.status != "closed" and complaint.due_at is not None
                                         and complaint.due_at < utcnow()),
        "escalated_at": _when(complaint.escalated_at),
        "escalated_to": complaint.escalated_to,
        "resolution": complaint.resolution,
        "finding": complaint.finding,
        "responsible_staff_id": complaint.responsible_staff_id,
        "measure": complaint.measure,
        "satisfied": complaint.satisfied,
        "reopen_count": complaint.reopen_count,
        "created_at": _when(complaint.created_at),
        "updated_at": _when(complaint.updated_at),
        "resolved_at": _when(complaint.resolved_at),
        "closed_at": _when(complaint.closed_at),
    }
    if with_events:
        out["events"] = [event_json(e) for e in complaint.events]
    return out


def event_json(event: ComplaintEvent) -> dict[str, Any]:
    return {"action": event.action, "from_status": event.from_status, "to_status": event.to_status,
            "actor": event.actor, "staff_id": event.staff_id, "comment": event.comment, "details": event.details,
            "created_at": _when(event.created_at)}
