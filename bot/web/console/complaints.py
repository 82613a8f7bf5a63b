"""Console pages for complaints (list with overdue flags, detail with history and actions)
and for ratings (figures for supervisors, "not helpful" entries for content managers).
Every change goes through ``domain.complaints``, exactly as the REST API does."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.console.pages import render
from bot.web.console.security import require_staff, verify_csrf
from domain import complaints, ratings
from domain.staff import has_role
from storage.models import Complaint, Rating, StaffUser, utcnow

router = APIRouter(prefix="/console")

HANDLERS = ("agent", "supervisor")
#: Form fields each action takes besides the comment.
_FIELDS = {"assign": ("staff_id",), "resolve": ("resolution", "finding", "responsible_staff_id", "measure")}


def _staff_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(StaffUser.id, StaffUser.display_name)).all())


@router.get("/complaints", response_class=HTMLResponse)
def complaint_list(request: Request, status: str | None = None, overdue: bool = False,
                   user: StaffUser = Depends(require_staff(*HANDLERS)),
                   session: Session = DB_SESSION) -> HTMLResponse:
    query = select(Complaint)
    if status in complaints.STATUSES:
        query = query.where(Complaint.status == status)
    elif status != "all":
        query = query.where(Complaint.status != "closed")
    if overdue:
        query = query.where(complaints.overdue_filter())
    rows = list(session.scalars(query.order_by(Complaint.due_at.asc().nulls_last(), Complaint.id).limit(300)))
    now = utcnow()
    return render(request, "console/complaints.html", {
        "complaints": rows, "late": {c.id for c in rows if c.overdue or (c.due_at and c.due_at < now)},
        "staff": _staff_names(session), "status": status or "", "overdue": overdue, "statuses": complaints.STATUSES,
    })


def _detail(request: Request, session: Session, complaint: Complaint, error: str | None = None,
            status_code: int = 200) -> HTMLResponse:
    allowed = complaints.LIFECYCLE.allowed(complaint.status, "staff")
    active = list(session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)))
    return render(request, "console/complaint.html", {
        "c": complaint, "events": complaint.events, "allowed": allowed, "active_staff": active,
        "staff": _staff_names(session), "error": error,
        "late": complaint.overdue or (complaint.due_at is not None and complaint.due_at < utcnow()),
    }, status_code=status_code)


def _load(session: Session, ticket: str) -> Complaint:
    complaint = complaints.get_by_ticket(session, ticket)
    if complaint is None:
        raise HTTPException(404, f"no complaint with ticket {ticket}")
    return complaint


@router.get("/complaints/{ticket}", response_class=HTMLResponse)
def complaint_detail(ticket: str, request: Request, user: StaffUser = Depends(require_staff(*HANDLERS)),
                     session: Session = DB_SESSION) -> HTMLResponse:
    return _detail(request, session, _load(session, ticket))


@router.post("/complaints/{ticket}/action", dependencies=[Depends(verify_csrf)])
def complaint_action(ticket: str, request: Request, action: str = Form(...), comment: str = Form(""),
                     staff_id: str = Form(""), resolution: str = Form(""), finding: str = Form(""),
                     responsible_staff_id: str = Form(""), measure: str = Form(""),
                     user: StaffUser = Depends(require_staff(*HANDLERS)),
                     session: Session = DB_SESSION) -> Response:
    given = {"staff_id": staff_id, "resolution": resolution, "finding": finding,
             "responsible_staff_id": responsible_staff_id, "measure": measure}
    fields: dict[str, Any] = {}
    for name in _FIELDS.get(action, ()):
        value = given[name].strip()
        fields[name] = (int(value) if value.isdigit() else None) if name.endswith("staff_id") else value
    complaint = _load(session, ticket)
    try:
        complaints.transition(session, request.app.state.services, complaint, action,
                              complaints.Actor("staff", user.username, user.id), comment, **fields)
    except complaints.IllegalTransition as exc:
        return _detail(request, session, complaint, str(exc), status_code=409)
    except complaints.InvalidRequest as exc:
        return _detail(request, session, complaint, str(exc), status_code=422)
    return RedirectResponse(f"/console/complaints/{complaint.ticket}", status_code=303)


@router.get("/ratings", response_class=HTMLResponse)
def ratings_page(request: Request, days: int = 30, user: StaffUser = Depends(require_staff("supervisor",
                                                                                           "content_manager")),
                 session: Session = DB_SESSION) -> HTMLResponse:
    days = min(max(days, 1), 366)
    until = utcnow()
    since = until - timedelta(days=days)
    threshold = request.app.state.services.settings.faq_unhelpful_min_votes
    return render(request, "console/ratings.html", {
        "days": days,
        "figures": ratings.stats(session, since, until) if has_role(user.role, "supervisor") else None,
        "complaint_figures": complaints.stats(session, since, until) if has_role(user.role, "supervisor") else None,
        "unhelpful": ratings.unhelpful_entries(session, threshold, since), "threshold": threshold,
        "comments": list(session.scalars(
            select(Rating).where(Rating.comment.is_not(None), Rating.rated_at >= since)
            .order_by(Rating.rated_at.desc()).limit(50))) if has_role(user.role, "supervisor") else [],
        "staff": _staff_names(session),
    })
