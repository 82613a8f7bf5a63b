"""The console's audit log page (admins): staff actions that are not case events, newest first,
filtered by action, actor and days (in the desk's time zone), 50 a page."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.console.pages import render
from bot.web.console.security import require_staff
from domain import audit
from storage.models import StaffUser

router = APIRouter(prefix="/console")
ADMIN = require_staff("admin")
PAGE_SIZE = 50
#: The deepest page a link may ask for (the offset stays within an integer column's range).
MAX_PAGE = 100_000


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    user: StaffUser = Depends(ADMIN),
    session: Session = DB_SESSION,
) -> HTMLResponse:
    zone = request.app.state.services.settings.working_hours.zone
    first, last = _day(since), _day(until)
    query = audit.AuditQuery(
        action=action.strip() or None,
        actor=actor.strip() or None,
        since=datetime.combine(first, time(), zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), zone) if last else None,
    )
    page = max(1, min(page, MAX_PAGE))
    total, rows = audit.search(session, query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    filters = {
        "action": action.strip(),
        "actor": actor.strip(),
        "since": first.isoformat() if first else "",
        "until": last.isoformat() if last else "",
    }
    return render(
        request,
        "console/audit.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "filters": filters,
            "actions": audit.recorded_actions(session),
            "bad_date": bool((since.strip() and first is None) or (until.strip() and last is None)),
        },
    )
