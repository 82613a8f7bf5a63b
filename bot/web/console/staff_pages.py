"""Staff accounts in the console: administrators add, disable, unlock and reset accounts;
everyone changes their own password (which ends their other sessions) and, with a Telegram staff
group, gets the one-time code that links their Telegram account (``/link CODE``)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, record_action
from bot.web.api_schema import PathId
from bot.web.console.handoff_pages import done
from bot.web.console.pages import render
from bot.web.console.security import SESSION_COOKIE, cookie_secure, require_staff, session_cookie_value, verify_csrf
from domain.staff import (
    LINK_CODE_TTL,
    ROLES,
    StaffError,
    add_staff,
    change_role,
    create_link_code,
    end_sessions,
    hash_password,
    verify_password,
)
from storage.models import StaffLink, StaffUser

router = APIRouter(prefix="/console")
ADMIN = require_staff("admin")
MIN_PASSWORD = 8


def _staff_page(request: Request, session: Session, error: str | None = None, detail: str = "",
                status_code: int = 200) -> HTMLResponse:
    users = list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
    return render(request, "console/staff.html", {"users": users, "roles": ROLES, "error": error, "detail": detail},
                  status_code=status_code)


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> HTMLResponse:
    return _staff_page(request, session)


@router.post("/staff", dependencies=[Depends(verify_csrf)])
def staff_add(request: Request, username: str = Form(...), display_name: str = Form(""), role: str = Form(...),
              password: str = Form(...), user: StaffUser = Depends(ADMIN),
              session: Session = DB_SESSION) -> Response:
    try:
        added = add_staff(session, username.strip(), password, role, display_name.strip() or None)
    except StaffError as exc:
        return _staff_page(request, session, "console.staff.error.invalid", str(exc), status_code=400)
    record_action(request, session, "staff.created", f"staff:{added.username}", {"role": added.role})
    return done("/console/staff")


def _target(session: Session, staff_id: int) -> StaffUser:
    target = session.get(StaffUser, staff_id)
    if target is None:
        raise HTTPException(404, "no such staff account")
    return target


@router.post("/staff/{staff_id}/active", dependencies=[Depends(verify_csrf)])
def staff_active(staff_id: PathId, request: Request, active: str = Form(...), user: StaffUser = Depends(ADMIN),
                 session: Session = DB_SESSION) -> Response:
    target = _target(session, staff_id)
    if target.id == user.id:
        return _staff_page(request, session, "console.staff.error.self", status_code=400)
    target.active = active == "1"
    if not target.active:
        target.on_duty = False  # a disabled account takes no conversations and counts for no wait estimate
        end_sessions(target)
    record_action(request, session, "staff.enabled" if target.active else "staff.disabled", f"staff:{target.username}")
    return done("/console/staff")


@router.post("/staff/{staff_id}/role", dependencies=[Depends(verify_csrf)])
def staff_role(staff_id: PathId, request: Request, role: str = Form(...), user: StaffUser = Depends(ADMIN),
               session: Session = DB_SESSION) -> Response:
    """A new role ends the account's sessions, so no page opened under the old role stays usable."""
    target = _target(session, staff_id)
    if target.id == user.id:
        return _staff_page(request, session, "console.staff.error.self", status_code=400)
    before = target.role
    try:
        change_role(target, role)
    except StaffError as exc:
        return _staff_page(request, session, "console.staff.error.invalid", str(exc), status_code=400)
    record_action(request, session, "staff.role_changed", f"staff:{target.username}", {"from": before, "to": role})
    return done("/console/staff")


@router.post("/staff/{staff_id}/unlock", dependencies=[Depends(verify_csrf)])
def staff_unlock(staff_id: PathId, request: Request, user: StaffUser = Depends(ADMIN),
                 session: Session = DB_SESSION) -> Response:
    target = _target(session, staff_id)
    target.locked_until, target.failed_logins = None, 0
    record_action(request, session, "staff.unlocked", f"staff:{target.username}")
    return done("/console/staff")


@router.post("/staff/{staff_id}/password", dependencies=[Depends(verify_csrf)])
def staff_reset_password(staff_id: PathId, request: Request, password: str = Form(...), user: StaffUser = Depends(ADMIN),
                         session: Session = DB_SESSION) -> Response:
    target = _target(session, staff_id)
    if len(password) < MIN_PASSWORD:
        return _staff_page(request, session, "console.password.error.short", status_code=400)
    target.password_hash = hash_password(password)
    end_sessions(target)
    target.locked_until, target.failed_logins = None, 0
    record_action(request, session, "staff.password_reset", f"staff:{target.username}")
    return done("/console/staff")


def _account(request: Request, session: Session, user: StaffUser, **context: object) -> dict[str, object]:
    """The own-account page's context: the password form, and with a staff room the Telegram link."""
    room = request.app.state.services.staff_room
    linked = None if room is None else session.scalar(select(StaffLink.platform_user_id).where(
        StaffLink.platform == room.platform, StaffLink.staff_id == user.id))
    return {"error": None, "changed": None, "room": room, "linked": linked, "link_code": None,
            "code_minutes": int(LINK_CODE_TTL.total_seconds() // 60), **context}


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, user: StaffUser = Depends(require_staff()),
                  session: Session = DB_SESSION) -> HTMLResponse:
    return render(request, "console/password.html",
                  _account(request, session, user, changed=request.query_params.get("changed")))


@router.post("/link-code", dependencies=[Depends(verify_csrf)])
def link_code(request: Request, user: StaffUser = Depends(require_staff()),
              session: Session = DB_SESSION) -> HTMLResponse:
    """A one-time code for ``/link CODE`` in Telegram (the staff group or a private chat with the bot)."""
    if request.app.state.services.staff_room is None:
        raise HTTPException(404, "no staff room is set up (BOT_TELEGRAM_STAFF_CHAT_ID)")
    return render(request, "console/password.html", _account(request, session, user,
                                                              link_code=create_link_code(session, user)))


@router.post("/password", dependencies=[Depends(verify_csrf)])
def change_password(request: Request, current: str = Form(...), new: str = Form(...), repeat: str = Form(...),
                    user: StaffUser = Depends(require_staff()), session: Session = DB_SESSION) -> Response:
    error = None
    if not verify_password(user.password_hash, current):
        error = "console.password.error.current"
    elif len(new) < MIN_PASSWORD:
        error = "console.password.error.short"
    elif new != repeat:
        error = "console.password.error.repeat"
    elif new == current:
        error = "console.password.error.same"
    if error:
        return render(request, "console/password.html", _account(request, session, user, error=error),
                      status_code=400)
    user.password_hash = hash_password(new)
    end_sessions(user)
    record_action(request, session, "staff.password_changed", f"staff:{user.username}")
    session.flush()
    response = done("/console/password?changed=1")
    # Every other session ends; this one continues with a cookie of the new epoch.
    response.set_cookie(SESSION_COOKIE, session_cookie_value(request.app.state.services, user), httponly=True,
                        samesite="lax", secure=cookie_secure(request),
                        max_age=request.app.state.services.settings.console_session_hours * 3600)
    return response
