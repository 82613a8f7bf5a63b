"""Staff accounts, roles and API tokens; one FastAPI dependency checks Bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ApiToken, StaffUser, utcnow

ROLES = ("agent", "reviewer", "content_manager", "supervisor", "admin")
#: What each role may do, as the roles it counts as.
GRANTS: dict[str, frozenset[str]] = {
    "agent": frozenset({"agent"}),
    "reviewer": frozenset({"reviewer"}),
    "content_manager": frozenset({"content_manager"}),
    "supervisor": frozenset({"supervisor", "agent", "reviewer"}),
    "admin": frozenset(ROLES),
}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def has_role(role: str, *allowed: str) -> bool:
    return any(a in GRANTS.get(role, frozenset()) for a in allowed)


class StaffError(ValueError):
    pass


def add_staff(session: Session, username: str, password: str, role: str, display_name: str | None = None) -> StaffUser:
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise StaffError("the password needs at least 8 characters")
    if session.scalars(select(StaffUser).where(StaffUser.username == username)).first():
        raise StaffError(f"a staff account named {username!r} exists already")
    user = StaffUser(username=username, display_name=display_name or username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, name: str, role: str, staff_id: int | None = None) -> str:
    """Create a token and return it; only its digest is stored, so it is shown once."""
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token = "sdb_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_digest(token), role=role, staff_id=staff_id))
    session.flush()
    return token


@dataclass
class Principal:
    """Who is calling: an API token (``staff_id`` when the token belongs to a person) or a console user."""

    name: str
    role: str
    staff_id: int | None = None


def get_session(request: Request):  # type: ignore[no-untyped-def]
    """One transaction per request; after it commits the outbox sender is woken for what it queued."""
    services = request.app.state.services
    with services.db.session() as session:
        yield session
    services.wake_outbox()


#: The request's transaction as a dependency. ``scope="function"`` commits it when the endpoint
#: returns, before the response is sent, so the next request (or a customer's poll) sees the change.
DB_SESSION = Depends(get_session, scope="function")


def bearer_principal(request: Request, session: Session = DB_SESSION) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing Authorization: Bearer token", headers={"WWW-Authenticate": "Bearer"})
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_digest(token.strip()))).one_or_none()
    if row is None or row.revoked_at is not None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    row.last_used_at = utcnow()
    return Principal(name=row.name, role=row.role, staff_id=row.staff_id)


def require_role(*allowed: str) -> Callable[..., Principal]:
    """Dependency: the caller's token must grant one of ``allowed``."""

    def check(principal: Principal = Depends(bearer_principal)) -> Principal:
        if not has_role(principal.role, *allowed):
            raise HTTPException(403, f"this needs the role {' or '.join(allowed)}")
        return principal

    return check
