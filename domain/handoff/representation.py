"""The representation of a handoff for the back office (the outgoing webhooks' ``data``)."""
from __future__ import annotations

from typing import Any

from storage.models import HandoffSession


def handoff_json(handoff: HandoffSession) -> dict[str, Any]:
    """Who waited, why, who took it and how it ended; no message text (that stays in the desk)."""
    return {
        "id": handoff.id, "conversation_id": handoff.conversation_id, "customer_id": handoff.customer_id,
        "reason": handoff.reason, "status": handoff.status, "after_hours": handoff.after_hours,
        "agent_id": handoff.agent_id, "created_at": handoff.created_at, "claimed_at": handoff.claimed_at,
        "first_response_at": handoff.first_response_at, "first_responder_id": handoff.first_responder_id,
        "requeued": handoff.requeued, "closed_at": handoff.closed_at, "close_kind": handoff.close_kind,
    }
