"""REST API for complaints and ratings (``/api/v1/complaints``, ``/api/v1/ratings``).

Staff and back-office systems handle complaints here with Bearer tokens; every change goes
through ``domain.complaints``, so the rules, the history and the customer's notification are
the same as in the console. An action the complaint's stage does not allow answers 409.
Notifications are committed with the request's transaction; the outbox sender's poll
(BOT_OUTBOX_POLL_SECONDS) picks them up, as FastAPI commits after the endpoint returns.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, require_role
from bot.web.api_schema import AUTHORIZED, CaseKey, RowId, Timestamp, errors
from bot.web.limits import INT_MAX
from domain import complaints, ratings
from domain.complaints.representation import complaint_json
from domain.ratings import rating_json
from storage.models import Complaint, Rating, utcnow

router = APIRouter(prefix="/api/v1", tags=["complaints and ratings"], responses=AUTHORIZED)

HANDLERS = require_role("agent", "supervisor")
SUPERVISORS = require_role("supervisor")
CONTENT = require_role("content_manager", "supervisor")


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """Default: the last 30 days."""
    until = until or utcnow()
    return since or until - timedelta(days=30), until


def _load(session: Session, ticket: str) -> Complaint:
    complaint = complaints.get_by_ticket(session, ticket)
    if complaint is None:
        raise HTTPException(404, f"no complaint with ticket {ticket!r}")
    return complaint


def _apply(request: Request, session: Session, principal: Principal, ticket: str, action: str,
           comment: str | None, **fields: Any) -> dict[str, Any]:
    complaint = _load(session, ticket)
    try:
        complaints.transition(session, request.app.state.services, complaint, action,
                              complaints.Actor("staff", principal.name, principal.staff_id), comment, **fields)
    except complaints.IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except complaints.InvalidRequest as exc:
        raise HTTPException(422, str(exc)) from None
    session.flush()
    session.refresh(complaint)
    return complaint_json(complaint, with_events=True)


# -- complaints ----------------------------------------------------------------------------------

@router.get("/complaints")
def list_complaints(
    session: Session = DB_SESSION,
    _principal: Principal = Depends(HANDLERS),
    status: Literal["received", "assigned", "investigating", "resolved", "follow_up", "closed"] | None = None,
    category: str | None = Query(None, max_length=200),
    assigned_to: RowId | None = None,
    overdue: bool | None = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=INT_MAX),
) -> dict[str, Any]:
    """Complaints, newest first, filtered by stage, category, handler, overdue and receipt time."""
    query = select(Complaint)
    if status:
        query = query.where(Complaint.status == status)
    if category:
        query = query.where(Complaint.category == category)
    if assigned_to is not None:
        query = query.where(Complaint.assigned_to == assigned_to)
    if overdue is not None:
        query = query.where(complaints.overdue_filter() if overdue else ~complaints.overdue_filter())
    if since or until:
        start, end = _period(since, until)
        query = query.where(Complaint.created_at >= start, Complaint.created_at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Complaint.id.desc()).limit(limit).offset(offset))
    return {"total": total, "items": [complaint_json(c) for c in rows]}


@router.get("/complaints/stats")
def complaint_stats(
    session: Session = DB_SESSION,
    _principal: Principal = Depends(SUPERVISORS),
    since: Timestamp | None = None,
    until: Timestamp | None = None,
) -> dict[str, Any]:
    return complaints.stats(session, *_period(since, until))


@router.get("/complaints/{ticket}", responses=errors(404))
def complaint_detail(ticket: CaseKey, session: Session = DB_SESSION,
                     _principal: Principal = Depends(HANDLERS)) -> dict[str, Any]:
    return complaint_json(_load(session, ticket), with_events=True)


class AssignBody(BaseModel):
    staff_id: RowId
    comment: str | None = Field(None, max_length=4000)


@router.post("/complaints/{ticket}/assign", responses=errors(400, 404, 409))
def assign(ticket: CaseKey, body: AssignBody, request: Request, session: Session = DB_SESSION,
           principal: Principal = Depends(HANDLERS)) -> dict[str, Any]:
    return _apply(request, session, principal, ticket, "assign", body.comment, staff_id=body.staff_id)


class ResolveBody(BaseModel):
    resolution: str = Field(..., min_length=1, max_length=4000, description="Sent to the customer.")
    finding: str | None = Field(None, max_length=4000, description="What the investigation found (internal).")
    responsible_staff_id: RowId | None = Field(None, description="The staff member found responsible, if any.")
    measure: str | None = Field(None, max_length=4000, description="The measure taken (责任追究).")
    comment: str | None = Field(None, max_length=4000)


@router.post("/complaints/{ticket}/resolve", responses=errors(400, 404, 409))
def resolve(ticket: CaseKey, body: ResolveBody, request: Request, session: Session = DB_SESSION,
            principal: Principal = Depends(HANDLERS)) -> dict[str, Any]:
    return _apply(request, session, principal, ticket, "resolve", body.comment, resolution=body.resolution,
                  finding=body.finding, responsible_staff_id=body.responsible_staff_id, measure=body.measure)


class TransitionBody(BaseModel):
    action: Literal["start", "follow_up", "close", "reopen"]
    comment: str | None = Field(None, max_length=4000)


@router.post("/complaints/{ticket}/transitions", responses=errors(400, 404, 409))
def move(ticket: CaseKey, body: TransitionBody, request: Request, session: Session = DB_SESSION,
         principal: Principal = Depends(HANDLERS)) -> dict[str, Any]:
    """start (assigned -> investigating), follow_up (resolved -> follow_up), close (follow_up ->
    closed), reopen (resolved or follow_up -> investigating); anything else answers 409."""
    return _apply(request, session, principal, ticket, body.action, body.comment)


# -- ratings -------------------------------------------------------------------------------------

@router.get("/ratings")
def list_ratings(
    session: Session = DB_SESSION,
    _principal: Principal = Depends(SUPERVISORS),
    kind: Literal["helpful", "score"] | None = None,
    subject_type: Literal["faq", "handoff", "application", "service"] | None = None,
    staff_id: RowId | None = None,
    entry_id: str | None = Query(None, max_length=200),
    service: str | None = Query(None, max_length=200),
    with_comment: bool = False,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=INT_MAX),
) -> dict[str, Any]:
    """Single ratings, newest first (answered ones; ``with_comment`` for those with a comment)."""
    start, end = _period(since, until)
    query = select(Rating).where(Rating.status == "rated", Rating.rated_at >= start, Rating.rated_at < end)
    for column_, value in ((Rating.kind, kind), (Rating.subject_type, subject_type), (Rating.staff_id, staff_id),
                           (Rating.entry_id, entry_id), (Rating.service, service)):
        if value is not None:
            query = query.where(column_ == value)
    if with_comment:
        query = query.where(Rating.comment.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Rating.rated_at.desc(), Rating.id.desc()).limit(limit).offset(offset))
    return {"total": total, "items": [rating_json(r) for r in rows]}


@router.get("/ratings/stats")
def rating_stats(
    session: Session = DB_SESSION,
    _principal: Principal = Depends(SUPERVISORS),
    since: Timestamp | None = None,
    until: Timestamp | None = None,
) -> dict[str, Any]:
    """Scores by agent, service, subject and day; answer rate of asked ratings; FAQ votes by entry."""
    return ratings.stats(session, *_period(since, until))


@router.get("/ratings/unhelpful")
def unhelpful(
    request: Request,
    session: Session = DB_SESSION,
    _principal: Principal = Depends(CONTENT),
    min_votes: int | None = Query(None, ge=1, le=INT_MAX),
    since: Timestamp | None = None,
) -> dict[str, Any]:
    """FAQ entries with many "not helpful" votes (default threshold: BOT_FAQ_UNHELPFUL_MIN_VOTES)."""
    threshold = min_votes or request.app.state.services.settings.faq_unhelpful_min_votes
    start = _period(since, None)[0] if since else None
    return {"min_votes": threshold, "entries": ratings.unhelpful_entries(session, threshold, start)}
