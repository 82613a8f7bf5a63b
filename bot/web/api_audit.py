"""REST: the audit log (``/api/v1/audit``), admins only: staff actions that are not case events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, require_role
from bot.web.api_schema import AUTHORIZED, Timestamp
from bot.web.limits import INT_MAX
from domain import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=AUTHORIZED)
ADMIN = require_role("admin")


@router.get("", summary="Audit entries, newest first, with their total (paged by limit and offset)")
def list_entries(
    action: str | None = Query(None, max_length=64, description="e.g. staff.login_failed"),
    actor: str | None = Query(None, max_length=200, description="a username, api:<token>, cli:<user>"),
    since: Timestamp | None = Query(None, description="from this time (ISO 8601 with a zone), inclusive"),
    until: Timestamp | None = Query(None, description="before this time (ISO 8601 with a zone)"),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=INT_MAX),
    _: Principal = Depends(ADMIN),
    session: Session = DB_SESSION,
) -> dict[str, Any]:
    total, rows = audit.search(session, audit.AuditQuery(action, actor, since, until), limit, offset)
    return {"total": total, "items": [audit.as_json(row) for row in rows], "actions": audit.ACTIONS}
