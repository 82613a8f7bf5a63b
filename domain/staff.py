"""Staff accounts, roles and API tokens: who may do what at the desk."""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ApiToken, StaffUser

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
#: A real hash of a random secret: checking a password against it costs what a real check costs,
#: so an unknown username takes as long as a wrong password and matches nothing.
_STAND_IN_HASH = _hasher.hash(secrets.token_urlsafe(32))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such account) is checked against a stand-in, in the same time."""
    try:
        return _hasher.verify(password_hash or _STAND_IN_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
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
