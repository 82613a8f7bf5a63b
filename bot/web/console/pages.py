"""Console pages of the foundation: login, logout, home, language, and the outbox of failed replies."""
from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, client_address, record_action
from bot.web.api_schema import PathId
from bot.web.console.nav import NAV
from bot.web.console.security import (
    LANG_COOKIE,
    NONCE_COOKIE,
    SESSION_COOKIE,
    attempt_login,
    cookie_secure,
    csrf_token,
    current_staff,
    require_staff,
    session_cookie_value,
    verify_csrf,
)
from domain.customers import known_name
from domain.staff import end_sessions, has_role
from handlers.i18n import t
from storage import inbox
from storage.models import Customer, OutboxItem, StaffUser
from storage.outbox import retry_failed

router = APIRouter(prefix="/console")


def console_lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in ("zh", "en") else request.app.state.services.settings.default_language


def local_time(request: Request) -> Callable[..., str]:
    """For templates: a UTC timestamp shown in the desk's time zone (that of the working hours)."""
    zone = request.app.state.services.settings.working_hours.zone

    def show(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(zone).strftime(fmt) if moment is not None else "—"

    return show


def customer_label(session: Session, customer: Customer, lang: str) -> str:
    """The customer as staff read it: their name and channel, never a raw platform id."""
    name = known_name(session, customer)
    if name:
        return t("console.customer.named", lang, name=name, channel=customer.channel)
    return t("console.customer.unnamed", lang, channel=customer.channel, id=customer.id)


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a console page with what every page needs: user, nav, language, CSRF token, ``t``."""
    lang = console_lang(request)
    user: StaffUser | None = getattr(request.state, "staff", None)
    nav = [item for item in NAV if user is not None and has_role(user.role, *item.roles)]
    base = {"user": user, "nav": nav, "lang": lang, "csrf_token": csrf_token(request),
            "t": lambda key, **kw: t(key, lang, **kw), "path": request.url.path, "local": local_time(request)}
    return request.app.state.templates.TemplateResponse(request, template, {**base, **context},
                                                        status_code=status_code)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used to send staff elsewhere."""
    if not target or urlparse(target).netloc or not target.startswith("/") or target.startswith("//"):
        return "/console"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(24)
    request.state.nonce = nonce
    response = render(request, "console/login.html", {"next": _safe_next(next), "error": None})
    response.set_cookie(NONCE_COOKIE, nonce, httponly=True, samesite="strict", secure=cookie_secure(request))
    return response


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("/console"),
          session: Session = DB_SESSION) -> Response:
    services = request.app.state.services
    limit = services.settings.console_login_per_minute
    if not request.app.state.rate_limiter.allow(f"login:{client_address(request)}", limit):
        record_action(request, session, "staff.login_failed", f"staff:{username.strip()}", {"reason": "too_many"},
                      actor=username.strip())
        return render(request, "console/login.html", {"next": _safe_next(next), "error": "console.login.too_many"},
                      status_code=429)
    user, error = attempt_login(session, services, username.strip(), password)
    if user is None:
        record_action(request, session, "staff.login_failed", f"staff:{username.strip()}",
                      {"reason": error.rsplit(".", 1)[-1]}, actor=username.strip())
        return render(request, "console/login.html", {"next": _safe_next(next), "error": error}, status_code=401)
    record_action(request, session, "staff.login", f"staff:{user.username}", actor=user.username)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie_value(request.app.state.services, user), httponly=True,
                        samesite="lax", secure=cookie_secure(request),
                        max_age=request.app.state.services.settings.console_session_hours * 3600)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, session: Session = DB_SESSION) -> Response:
    """End every session of the account (a copied cookie dies with the one in this browser)."""
    user = current_staff(request, session)
    if user is not None:
        end_sessions(user)
        record_action(request, session, "staff.logout", f"staff:{user.username}", actor=user.username)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request) -> Response:
    response = RedirectResponse(_safe_next(request.headers.get("referer", "/console").replace(
        str(request.base_url).rstrip("/"), "")), status_code=303)
    if lang in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", secure=cookie_secure(request))
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, user: StaffUser = Depends(require_staff())) -> HTMLResponse:
    return render(request, "console/home.html", {})


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, user: StaffUser = Depends(require_staff("supervisor")),
                session: Session = DB_SESSION) -> HTMLResponse:
    failed = list(session.scalars(select(OutboxItem).where(OutboxItem.status == "failed")
                                  .order_by(OutboxItem.id.desc()).limit(200)))
    pending = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
    return render(request, "console/outbox.html", {"failed": failed, "pending": pending,
                                                   "kept": [(item, _as_received(item.payload))
                                                            for item in inbox.kept_for_inspection(session)]})


def _as_received(payload: object, limit: int = 4000) -> str:
    """A delivery's payload as readable JSON (Chinese as is), cut at ``limit``; the page escapes it."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    return text if len(text) <= limit else text[:limit] + " …"


@router.post("/outbox/{item_id}/retry", dependencies=[Depends(verify_csrf)])
def outbox_retry(item_id: PathId, request: Request, user: StaffUser = Depends(require_staff("supervisor")),
                 session: Session = DB_SESSION) -> Response:
    retry_failed(session, item_id)
    return RedirectResponse("/console/outbox", status_code=303)


@router.post("/inbox/{item_id}/retry", dependencies=[Depends(verify_csrf)])
def inbox_retry(item_id: PathId, request: Request, after: BackgroundTasks,
                user: StaffUser = Depends(require_staff("supervisor")),
                session: Session = DB_SESSION) -> Response:
    """A kept delivery goes back to the workers, woken once the request has committed."""
    if inbox.retry_kept(session, item_id):
        after.add_task(request.app.state.services.wake_inbox)
    return RedirectResponse("/console/outbox#inbox", status_code=303)
