"""The REST API's FastAPI dependencies: the request's transaction and Bearer tokens with a role;
who is calling from where, and the audit record of what they did."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain.staff import has_role, token_digest
from storage.models import ApiToken, utcnow


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


#: The REST API's security scheme in /openapi.json (the Authorize button of /api/docs). It refuses
#: nothing itself, so a missing token answers our own 401 with ``{"error": ...}``.
BEARER = HTTPBearer(auto_error=False, description="An API token: python -m bot api-token create NAME --role ROLE")


def bearer_principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(BEARER),
                     session: Session = DB_SESSION) -> Principal:
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise HTTPException(401, "missing Authorization: Bearer token", headers={"WWW-Authenticate": "Bearer"})
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).one_or_none()
    if row is None or row.revoked_at is not None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    row.last_used_at = utcnow()
    request.state.principal = Principal(name=row.name, role=row.role, staff_id=row.staff_id)
    return request.state.principal


def require_role(*allowed: str) -> Callable[..., Principal]:
    """Dependency: the caller's token must grant one of ``allowed``."""

    def check(principal: Principal = Depends(bearer_principal)) -> Principal:
        if not has_role(principal.role, *allowed):
            raise HTTPException(403, f"this needs the role {' or '.join(allowed)}")
        return principal

    return check


def client_address(request: Request) -> str:
    """The caller's address: the peer, or the client a trusted proxy names (``BOT_FORWARDED_ALLOW_IPS``:
    ``serve`` has uvicorn read X-Forwarded-For only from those addresses)."""
    return request.client.host if request.client else "unknown"


def record_action(request: Request, session: Session, action: str, subject: str,
                  detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
    """Audit a staff action of this request (``domain.audit``): by ``actor``, else the console user
    or the API token (``api:<name>``) behind it, from the caller's address."""
    if actor is None:
        staff = getattr(request.state, "staff", None)
        principal = getattr(request.state, "principal", None)
        actor = staff.username if staff is not None else f"api:{principal.name}" if principal is not None else None
    audit.record(session, actor=actor, action=action, subject=subject, detail=detail,
                 address=client_address(request))
