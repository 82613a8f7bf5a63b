"""The console's erasure requests page (admins): customers' requests, made in chat, to delete
their data, each with what an erasure would keep; approve (the erasure runs) or reject with a
reason. Either way the customer is told in the chat they asked from."""
from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.api_schema import PathId
from bot.web.console.pages import console_lang, render
from bot.web.console.security import require_staff, verify_csrf
from domain import erasure
from domain.customers import customer_ids_of_person, known_name
from handlers.i18n import t
from handlers.notices.privacy import kept_lines
from storage.models import Customer, StaffUser

router = APIRouter(prefix="/console")
ADMIN = require_staff("admin")


def _page(request: Request, session: Session, message: str | None = None, error: str | None = None,
          status_code: int = 200) -> HTMLResponse:
    lang, settings = console_lang(request), request.app.state.services.settings
    rows = []
    for item in erasure.pending_requests(session):
        customer = session.get(Customer, item.customer_id)
        kept = erasure.kept_cases(session, settings, customer_ids_of_person(session, customer))[0] if customer else []
        rows.append({"request": item, "name": known_name(session, customer) if customer else None,
                     "kept": kept_lines(kept, lang) or t("console.erasure.nothing_kept", lang)})
    return render(request, "console/erasure.html", {"rows": rows, "message": message, "error": error},
                  status_code=status_code)


@router.get("/erasure", response_class=HTMLResponse)
def erasure_page(request: Request, user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> HTMLResponse:
    return _page(request, session)


@router.post("/erasure/{request_id}/approve", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def erasure_approve(request_id: PathId, request: Request, note: str = Form("", max_length=2000),
                    user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> HTMLResponse:
    services, lang = request.app.state.services, console_lang(request)

    def run() -> str:
        done = erasure.approve(session, services, services.attachments, request_id, f"console:{user.username}", note)
        kept = kept_lines(done.kept, lang) or t("console.erasure.nothing_kept", lang)
        return t("console.erasure.done", lang, id=request_id, kept=kept)
    return _decide(request, session, run)


@router.post("/erasure/{request_id}/reject", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def erasure_reject(request_id: PathId, request: Request, reason: str = Form("", max_length=2000),
                   user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> HTMLResponse:
    services, lang = request.app.state.services, console_lang(request)

    def run() -> str:
        erasure.reject(session, services, request_id, f"console:{user.username}", reason)
        return t("console.erasure.rejected", lang, id=request_id)
    return _decide(request, session, run)


def _decide(request: Request, session: Session, decision: Callable[[], str]) -> HTMLResponse:
    """Make the decision and show the page with what happened; a refused one shows why (409)."""
    try:
        message = decision()
    except erasure.ErasureError as exc:
        return _page(request, session, error=str(exc), status_code=409)
    return _page(request, session, message=message)
