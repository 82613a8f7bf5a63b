"""Console sessions (signed cookies), CSRF tokens and the ``require_staff`` dependency.

The session cookie carries the staff id and the account's session epoch, signed with the
server's secret; every request compares the epoch with the staff row, so logout, a password
change, a role change or disabling the account ends every session at once, on every worker. CSRF tokens are an HMAC of the session (or, before login, of a nonce
cookie), checked on every state-changing request.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from domain.staff import (
    clear_failed_logins,
    count_failed_login,
    count_unknown_login,
    has_role,
    unknown_login_locked,
    verify_password,
)
from handlers.services import Services
from storage.models import StaffUser, utcnow

SESSION_COOKIE = "sdb_console"
NONCE_COOKIE = "sdb_nonce"
LANG_COOKIE = "sdb_console_lang"


class LoginRequired(Exception):
    """Raised by ``require_staff`` for anonymous requests; answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def secret_key(services: Services) -> str:
    """BOT_SECRET_KEY, or a random key generated once and kept under BOT_DATA_DIR."""
    configured = services.settings.secret_key
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    path = services.settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _serializer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(services), salt="console-session")


def session_cookie_value(services: Services, user: StaffUser) -> str:
    return _serializer(services).dumps({"uid": user.id, "ep": user.session_epoch})


def cookie_secure(request: Request) -> bool:
    configured = request.app.state.services.settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def current_staff(request: Request, session: Session) -> StaffUser | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    services: Services = request.app.state.services
    max_age = services.settings.console_session_hours * 3600
    try:
        data = _serializer(services).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    user = session.get(StaffUser, uid) if isinstance(uid, int) else None
    if user is None or not user.active or data.get("ep") != user.session_epoch:
        return None
    return user


def require_staff(*roles: str):  # type: ignore[no-untyped-def]
    """Dependency: the logged-in staff member, who must hold one of ``roles`` (any role if none given)."""

    def check(request: Request, session: Session = DB_SESSION) -> StaffUser:
        user = current_staff(request, session)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if roles and not has_role(user.role, *roles):
            raise HTTPException(403, "your role may not open this page")
        request.state.staff = user
        return user

    return check


def csrf_token(request: Request) -> str:
    """The token forms must send back (hidden field ``csrf_token`` or header ``X-CSRF-Token``)."""
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(NONCE_COOKIE) or getattr(
        request.state, "nonce", "")
    key = secret_key(request.app.state.services).encode()
    return hmac.new(key, ("csrf:" + basis).encode(), hashlib.sha256).hexdigest()


async def verify_csrf(request: Request) -> None:
    """Dependency for every state-changing console request."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page and try again")


def attempt_login(session: Session, services: Services, username: str, password: str) -> tuple[StaffUser | None, str]:
    """Check a login; returns (user, "") or (None, reason key). Counts failures and locks the account.
    A name without an account answers exactly as an account with a wrong password (page, time, lockout);
    only the right password learns that an account is disabled."""
    settings = services.settings
    limit, lockout = settings.console_max_failed_logins, timedelta(minutes=settings.console_lockout_minutes)
    user = session.query(StaffUser).filter(StaffUser.username == username).one_or_none()
    now = utcnow()
    if user is None:
        if unknown_login_locked(session, username, now):
            return None, "console.login.locked"
        verify_password(None, password)  # the same time as a real check
        locked = count_unknown_login(session, username, limit, lockout, now)
        return None, "console.login.locked" if locked else "console.login.failed"
    if user.locked_until and user.locked_until > now:
        return None, "console.login.locked"
    if not verify_password(user.password_hash, password):
        locked = count_failed_login(session, user.id, limit, lockout, now)
        return None, "console.login.locked" if locked else "console.login.failed"
    if not user.active:
        return None, "console.login.disabled"
    if not clear_failed_logins(session, user.id, now):
        return None, "console.login.locked"
    return user, ""
