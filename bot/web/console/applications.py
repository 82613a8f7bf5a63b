"""Console pages for applications: the list (filters, overdue first) and one case with its
materials, history and the review actions. Reviewers act; agents and supervisors look.

Lists always mask ID and phone numbers; the case page shows them to reviewers only. Opening
or downloading a file is recorded (who, when, which file) before it is served.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.api_applications import detail, file_accesses, search, summary
from bot.web.api_schema import PathId
from bot.web.console.pages import render
from bot.web.console.security import require_staff, verify_csrf
from domain import applications as apps
from domain.staff import has_role
from handlers.services import Services
from storage.models import Application, ApplicationItem, Attachment, StaffUser

router = APIRouter(prefix="/console/applications", include_in_schema=False)
VIEW = require_staff("agent", "reviewer")
ACT = require_staff("reviewer")


def _actor(user: StaffUser) -> apps.Actor:
    return apps.Actor("staff", user.username, user.id)


def _local_time(services: Services):  # type: ignore[no-untyped-def]
    """Times in the service desk's time zone (the calendar's), as staff read them."""
    zone = ZoneInfo(services.catalogue.calendar.timezone)
    return lambda moment, fmt="%Y-%m-%d %H:%M": moment.astimezone(zone).strftime(fmt) if moment else "-"


def _find(session: Session, reference: str, lock: bool = False) -> Application:
    app = apps.by_reference(session, reference, lock=lock)
    if app is None or app.stage == "draft":
        raise HTTPException(404, f"no application {reference}")
    return app


@router.get("", response_class=HTMLResponse)
def application_list(request: Request, stage: str = "", service: str = "", overdue: str = "",
                     user: StaffUser = Depends(VIEW), session: Session = DB_SESSION) -> HTMLResponse:
    services = request.app.state.services
    total, rows = search(session, [stage] if stage in apps.STAGES else None, service or None,
                         True if overdue else None, limit=200)
    return render(request, "console/applications.html", {
        "local": _local_time(services),
        "rows": [summary(session, services, a, reveal=False) for a in rows], "total": total,
        "stages": apps.STAGES[1:], "services": services.catalogue.services(),
        "filters": {"stage": stage, "service": service, "overdue": bool(overdue)},
    })


def _detail_page(request: Request, session: Session, user: StaffUser, app: Application, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    services = request.app.state.services
    case = detail(session, services, app, reveal=has_role(user.role, "reviewer"))
    service = services.catalogue.get(app.service_id)
    return render(request, "console/application_detail.html", {
        "case": case, "app": app, "service": service, "error": error, "local": _local_time(services),
        "can_act": has_role(user.role, "reviewer"), "accesses": file_accesses(session, app),
    }, status_code=status_code)


@router.get("/{reference}", response_class=HTMLResponse)
def application_page(reference: str, request: Request, user: StaffUser = Depends(VIEW),
                     session: Session = DB_SESSION) -> HTMLResponse:
    return _detail_page(request, session, user, _find(session, reference))


def _act(request: Request, session: Session, user: StaffUser, app: Application, call) -> Response:  # type: ignore[no-untyped-def]
    """Run a review action in a savepoint; a refusal undoes it and re-renders the case with the reason."""
    reference = app.reference or ""
    savepoint = session.begin_nested()
    try:
        call()
    except apps.DomainError as exc:
        savepoint.rollback()
        status = 409 if isinstance(exc, apps.IllegalTransition) else 422
        return _detail_page(request, session, user, _find(session, reference), str(exc), status)
    savepoint.commit()
    return RedirectResponse(f"/console/applications/{quote(reference)}", status_code=303)


@router.post("/{reference}/transition", dependencies=[Depends(verify_csrf)])
def application_transition(reference: str, request: Request, to: str = Form(...), comment: str = Form(""),
                           reason: str = Form(""), remedy: str = Form(""), follow_up: str = Form(""),
                           user: StaffUser = Depends(ACT), session: Session = DB_SESSION) -> Response:
    app = _find(session, reference, lock=True)
    services = request.app.state.services
    if to == "correction_requested":
        raise HTTPException(422, "a correction names its items: use the correction form")
    return _act(request, session, user, app, lambda: apps.transition(
        session, services, app, to, _actor(user), comment=comment or None, reason=reason or None,
        remedy=remedy or None, follow_up=follow_up or None))


@router.post("/{reference}/correction", dependencies=[Depends(verify_csrf)])
async def application_correction(reference: str, request: Request, user: StaffUser = Depends(ACT),
                                 session: Session = DB_SESSION) -> Response:
    form = await request.form()
    app = _find(session, reference, lock=True)
    items = [{"material": str(mid), "note": str(form.get(f"note_{mid}") or "")} for mid in form.getlist("material")]
    comment = str(form.get("comment") or "") or None
    return _act(request, session, user, app, lambda: apps.transition(
        session, request.app.state.services, app, "correction_requested", _actor(user), comment=comment,
        items=items))


@router.post("/{reference}/extend", dependencies=[Depends(verify_csrf)])
def application_extend(reference: str, request: Request, days: int = Form(...), reason: str = Form(""),
                       user: StaffUser = Depends(ACT), session: Session = DB_SESSION) -> Response:
    app = _find(session, reference, lock=True)
    return _act(request, session, user, app, lambda: apps.extend(
        session, request.app.state.services, app, days, reason, _actor(user)))


@router.get("/{reference}/files/{item_id}")
def application_file(reference: str, item_id: PathId, request: Request, download: bool = False,
                     user: StaffUser = Depends(ACT), session: Session = DB_SESSION) -> Response:
    app = _find(session, reference)
    item = session.get(ApplicationItem, item_id)
    if item is None or item.application_id != app.id or item.attachment_id is None:
        raise HTTPException(404, "no such file in this application")
    attachment = session.scalars(select(Attachment).where(Attachment.id == item.attachment_id)).one()
    data = request.app.state.services.attachments.read(attachment)
    apps.record_file_access(session, app, item, _actor(user), "download" if download else "view", "console")
    name = attachment.original_name or item.material_id
    disposition = "attachment" if download else "inline"
    headers: dict[str, Any] = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    }
    return Response(data, media_type=attachment.mime, headers=headers)
