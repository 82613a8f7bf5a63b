"""REST: replies that could not be sent, and retrying them (`/api/v1/outbox`)."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, require_role
from bot.web.api_schema import AUTHORIZED, PathId, errors
from storage.models import OutboxItem
from storage.outbox import retry_failed

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"], responses=AUTHORIZED)


def _item(item: OutboxItem) -> dict[str, Any]:
    return {"id": item.id, "conversation_id": item.conversation_id, "channel": item.channel,
            "status": item.status, "attempts": item.attempts, "last_error": item.last_error,
            "created_at": item.created_at.isoformat(), "sent_at": item.sent_at.isoformat() if item.sent_at else None}


@router.get("")
def list_outbox(status: Literal["pending", "sent", "failed"] = "failed", limit: int = Query(100, ge=1, le=1000),
                _: Principal = Depends(require_role("supervisor")),
                session: Session = DB_SESSION) -> dict[str, Any]:
    items = session.scalars(select(OutboxItem).where(OutboxItem.status == status)
                            .order_by(OutboxItem.id.desc()).limit(limit))
    return {"items": [_item(i) for i in items]}


@router.post("/{item_id}/retry", responses=errors(404, 409))
def retry(item_id: PathId, _: Principal = Depends(require_role("supervisor")),
          session: Session = DB_SESSION) -> dict[str, Any]:
    item = session.get(OutboxItem, item_id)
    if item is None:
        raise HTTPException(404, f"no outbox item {item_id}")
    if not retry_failed(session, item_id):
        raise HTTPException(409, f"outbox item {item_id} is {item.status}, only failed items can be retried")
    session.flush()
    return _item(item)
