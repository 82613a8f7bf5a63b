"""The inbox table's API: a platform delivery is a row before the platform hears 200."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


#: States of a delivery the workers will not try again by themselves: kept for a person to look at.
KEPT_FOR_INSPECTION = ("unparseable", "failed")


def kept_for_inspection(session: Session, limit: int = 200) -> list[InboxItem]:
    """Deliveries that did not parse, or failed every try: newest first."""
    return list(session.scalars(select(InboxItem).where(InboxItem.status.in_(KEPT_FOR_INSPECTION))
                                .order_by(InboxItem.id.desc()).limit(limit)))


def retry_kept(session: Session, item_id: int) -> bool:
    """Staff hand a kept delivery back to the workers (after a fix, or the cause went away)."""
    item = session.get(InboxItem, item_id)
    if item is None or item.status not in KEPT_FOR_INSPECTION:
        return False
    item.status, item.attempts, item.next_attempt_at, item.last_error = "pending", 0, utcnow(), None
    return True
