"""REST API for applications (``/api/v1/applications``): how reviewers' tools and back-office
systems read cases and drive their stages. Bearer tokens; an illegal stage change answers 409.

ID and phone numbers are masked for roles that do not review applications; every file
download is recorded with who and when.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, require_role
from bot.web.api_schema import AUTHORIZED, CaseKey, PathId, Timestamp, errors
from bot.web.limits import INT_MAX
from domain import applications as apps
from domain.applications.representation import detail, summary
from domain.staff import has_role
from handlers.services import Services
from storage.models import Application, ApplicationItem, Attachment, FileAccess, utcnow

router = APIRouter(prefix="/api/v1/applications", tags=["applications"], responses=AUTHORIZED)
READ = require_role("agent", "reviewer")
WRITE = require_role("reviewer")
STATS = require_role("supervisor")
#: The stages of a submitted application (a draft is the customer's, not the API's).
Stage = Literal[apps.STAGES[1:]]  # type: ignore[valid-type]


class ItemOut(BaseModel):
    id: int
    material: str
    name: str
    kind: str
    value: str | None = None
    file_name: str | None = None
    mime: str | None = None
    size: int | None = None
    download: str | None = None
    status: str


class TransitionOut(BaseModel):
    at: datetime
    from_stage: str | None
    to_stage: str
    actor: str
    actor_kind: str
    comment: str | None
    details: dict[str, Any]


class ExtensionOut(BaseModel):
    at: datetime
    days: int
    reason: str
    old_due_date: date | None
    new_due_date: date
    actor: str


class SummaryOut(BaseModel):
    reference: str
    service: str
    service_name: dict[str, str]
    stage: str
    stage_changed_at: datetime
    submitted_at: datetime | None
    due_date: date | None
    overdue: bool
    customer: str
    applicant: dict[str, str] = Field(default_factory=dict, description="ID/phone values; masked unless the role reviews")


class DetailOut(SummaryOut):
    channel: str
    language: str
    needs_secondary_review: bool
    allowed_next: list[str]
    correction_items: list[dict[str, str]]
    decision_reason: str | None
    remedy: str | None
    follow_up: str | None
    items: list[ItemOut]
    pending_items: list[ItemOut]
    history: list[TransitionOut]
    extensions: list[ExtensionOut]


class ListOut(BaseModel):
    total: int
    items: list[SummaryOut]


class TransitionIn(BaseModel):
    to: Stage = Field(description="The next stage, e.g. initial_review, approval, approved, rejected, processing, completed")
    comment: str | None = Field(None, max_length=2000, description="Shown to the customer with the notice")
    reason: str | None = Field(None, max_length=2000, description="Required for rejected")
    remedy: str | None = Field(None, max_length=2000, description="What the customer can do; required for rejected")
    follow_up: str | None = Field(None, max_length=4000, description="For completed; default: the service's text")


class CorrectionItem(BaseModel):
    material: str = Field(min_length=1, max_length=200, description="A material id of the service")
    note: str | None = Field(None, max_length=500)


class CorrectionIn(BaseModel):
    items: list[CorrectionItem] = Field(min_length=1)
    comment: str | None = Field(None, max_length=2000)


class ExtensionIn(BaseModel):
    days: int = Field(ge=1, le=60)
    reason: str = Field(min_length=1, max_length=2000)


def _actor(principal: Principal) -> apps.Actor:
    return apps.Actor("staff", principal.name, principal.staff_id)


def _sees_pii(principal: Principal) -> bool:
    return has_role(principal.role, "reviewer")


def search(session: Session, stage: list[str] | None = None, service: str | None = None,
           overdue: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[Application]]:
    """Submitted applications, oldest deadline first (the console uses this too)."""
    query = select(Application).where(Application.stage != "draft")
    if stage:
        query = query.where(Application.stage.in_(stage))
    if service:
        query = query.where(Application.service_id == service)
    if overdue is not None:
        late = Application.stage.not_in(apps.TERMINAL) & (
            Application.overdue.is_(True) | (Application.due_at <= utcnow()))
        query = query.where(late if overdue else ~late)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Application.due_at.asc().nulls_last(), Application.id.desc())
                                .limit(limit).offset(offset)))
    return total, rows


def _find(session: Session, reference: str, lock: bool = False) -> Application:
    app = apps.by_reference(session, reference, lock=lock)
    if app is None or app.stage == "draft":
        raise HTTPException(404, f"no application {reference}")
    return app


def _change(request: Request, session: Session, principal: Principal, reference: str,
            change: Callable[[Services, Application], object]) -> dict[str, Any]:
    """Lock the case, make one change to it, and answer with the case as it now stands; the change's
    refusals become 409 (illegal now) or 422 (incomplete request)."""
    services = request.app.state.services
    app = _find(session, reference, lock=True)
    try:
        change(services, app)
    except apps.IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except apps.InvalidRequest as exc:
        raise HTTPException(422, str(exc)) from None
    return detail(session, services, app, _sees_pii(principal))


@router.get("", response_model=ListOut, summary="List applications")
def list_applications(
    request: Request,
    stage: list[Stage] | None = Query(None, description="Repeat to give several stages"),
    service: str | None = Query(None, max_length=200, description="Service id"),
    overdue: bool | None = Query(None, description="Only overdue (true) or only not overdue (false)"),
    limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=INT_MAX),
    principal: Principal = Depends(READ), session: Session = DB_SESSION,
) -> dict[str, Any]:
    services = request.app.state.services
    total, rows = search(session, stage, service, overdue, limit, offset)
    reveal = _sees_pii(principal)
    return {"total": total, "items": [summary(session, services, a, reveal) for a in rows]}


@router.get("/stats", summary="Figures for the supervisors' dashboard")
def application_stats(
    since: Timestamp | None = Query(None, description="Default: 30 days ago"),
    until: Timestamp | None = Query(None, description="Default: now"),
    principal: Principal = Depends(STATS), session: Session = DB_SESSION,
) -> dict[str, Any]:
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    return apps.stats(session, since, until)


@router.get("/{reference}", response_model=DetailOut, summary="One application with materials and history",
            responses=errors(404))
def get_application(reference: CaseKey, request: Request, principal: Principal = Depends(READ),
                    session: Session = DB_SESSION) -> dict[str, Any]:
    app = _find(session, reference)
    return detail(session, request.app.state.services, app, _sees_pii(principal))


@router.post("/{reference}/transitions", response_model=DetailOut, summary="Move to the next stage",
             responses=errors(400, 404, 409))
def post_transition(reference: CaseKey, body: TransitionIn, request: Request, principal: Principal = Depends(WRITE),
                    session: Session = DB_SESSION) -> dict[str, Any]:
    def move(services: Services, app: Application) -> None:
        if body.to == "correction_requested":
            raise HTTPException(422, "a correction names its items: POST .../correction")
        apps.transition(session, services, app, body.to, _actor(principal), comment=body.comment,
                        reason=body.reason, remedy=body.remedy, follow_up=body.follow_up)

    return _change(request, session, principal, reference, move)


@router.post("/{reference}/correction", response_model=DetailOut, summary="Request a correction (补正) naming items",
             responses=errors(400, 404, 409))
def post_correction(reference: CaseKey, body: CorrectionIn, request: Request, principal: Principal = Depends(WRITE),
                    session: Session = DB_SESSION) -> dict[str, Any]:
    items = [{"material": i.material, "note": i.note or ""} for i in body.items]
    return _change(request, session, principal, reference,
                   lambda services, app: apps.transition(session, services, app, "correction_requested",
                                                         _actor(principal), comment=body.comment, items=items))


@router.post("/{reference}/extensions", response_model=DetailOut, summary="Extend the time limit, with a reason",
             responses=errors(400, 404, 409))
def post_extension(reference: CaseKey, body: ExtensionIn, request: Request, principal: Principal = Depends(WRITE),
                   session: Session = DB_SESSION) -> dict[str, Any]:
    return _change(request, session, principal, reference,
                   lambda services, app: apps.extend(session, services, app, body.days, body.reason,
                                                     _actor(principal)))


@router.get("/{reference}/files/{item_id}", summary="Download one material file (recorded)",
            response_class=Response,
            responses={200: {"content": {"*/*": {}}, "description": "The file with its own media type"}, **errors(404)})
def download(reference: CaseKey, item_id: PathId, request: Request, principal: Principal = Depends(WRITE),
             session: Session = DB_SESSION) -> Response:
    app = _find(session, reference)
    item = session.get(ApplicationItem, item_id)
    if item is None or item.application_id != app.id or item.attachment_id is None:
        raise HTTPException(404, "no such file in this application")
    attachment = session.get(Attachment, item.attachment_id)
    assert attachment is not None
    data = request.app.state.services.attachments.read(attachment)
    apps.record_file_access(session, app, item, _actor(principal), "download", "api")
    name = attachment.original_name or f"{item.material_id}"
    return Response(data, media_type=attachment.mime, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})


def file_accesses(session: Session, app: Application) -> list[FileAccess]:
    return list(session.scalars(select(FileAccess).where(FileAccess.application_id == app.id)
                                .order_by(FileAccess.id)))
