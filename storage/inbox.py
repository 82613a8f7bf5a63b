"""The inbox table's API: a platform delivery is a row before the platform hears 200."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from storage.models import InboxItem, utcnow
from storage.repositories import insert_ignore

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)


def accept(db: "Database", channel: str, delivery_key: str, payload: dict[str, Any], chat_id: str | None = None) -> bool:
    """Record a delivery; False when the same one was recorded before (a repeat to drop)."""
    with db.session() as session:
        new_id = insert_ignore(session, InboxItem, {
            "channel": channel, "delivery_key": delivery_key, "chat_id": chat_id, "payload": payload,
            "status": "pending", "attempts": 0, "next_attempt_at": utcnow(), "created_at": utcnow(),
        }, ["channel", "delivery_key"], returning=InboxItem.id)
        fresh = new_id is not None
    if not fresh:
        log.info("duplicate delivery dropped channel=%s key=%s", channel, delivery_key)
    return fresh
