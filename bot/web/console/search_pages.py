"""The console's conversation search (``/console/search``): the form and its results, each
linking to the conversation. The rules of the search are domain/handoff/search.py; here only
what the page reads (dates as days in the staff's time zone) and shows (phones masked unless
the viewer is a supervisor)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.console.pages import render
from bot.web.console.security import require_staff
from domain.customers import mask
from domain.handoff.search import STATUSES, ConversationHit, ConversationQuery, search_conversations
from domain.staff import has_role
from storage.models import Conversation, StaffUser

router = APIRouter(prefix="/console")
FIELDS = ("name", "phone", "number", "text", "channel", "since", "until", "status")


def _day_start(value: str, zone: tzinfo, days_after: int = 0) -> datetime | None:
    """``YYYY-MM-DD`` as the UTC moment its day (plus ``days_after``) starts in ``zone``."""
    if not value:
        return None
    day = date.fromisoformat(value) + timedelta(days=days_after)
    return datetime.combine(day, time.min, zone)


def _query(form: dict[str, str], zone: tzinfo) -> ConversationQuery:
    """The search from the form; a malformed date or status raises ValueError."""
    return ConversationQuery(
        name=form["name"], phone=form["phone"], number=form["number"], text=form["text"], channel=form["channel"],
        since=_day_start(form["since"], zone), until=_day_start(form["until"], zone, days_after=1),
        status=form["status"])


def _row(hit: ConversationHit, may_see_phone: bool, zone: tzinfo) -> dict[str, Any]:
    customer = hit.customer
    return {
        "url": f"/console/conversations/{hit.conversation.id}",
        "customer": customer.display_name or customer.external_id, "channel": hit.conversation.channel,
        "phone": customer.phone if may_see_phone else mask(customer.phone, "phone"),
        "last_at": hit.last_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if hit.last_at else "",
        "status": hit.handoff_status, "snippet": hit.snippet[:200],
    }


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, user: StaffUser = Depends(require_staff("agent")),
                session: Session = DB_SESSION) -> HTMLResponse:
    zone = request.app.state.services.settings.working_hours.zone
    form = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    rows: list[dict[str, Any]] = []
    error = None
    try:
        query = _query(form, zone)
    except ValueError:
        query, error = ConversationQuery(), "console.search.bad_input"
    searched = not query.empty
    if searched:
        may_see_phone = has_role(user.role, "supervisor")
        rows = [_row(hit, may_see_phone, zone) for hit in search_conversations(session, query)]
    channels = sorted(session.scalars(select(Conversation.channel).distinct()))
    return render(request, "console/search.html", {
        "form": form, "rows": rows, "searched": searched, "error": error, "channels": channels,
        "statuses": STATUSES}, status_code=400 if error else 200)
