"""Staff accounts, roles, API tokens and platform links: who may do what at the desk, and which
Telegram account acts as which staff member."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage import counters
from storage.models import ApiToken, StaffLink, StaffUser, utcnow
from storage.repositories import KeyValueStore

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


def count_failed_login(session: Session, staff_id: int, limit: int, lockout: timedelta, now: datetime) -> bool:
    """Count one failed login in a single UPDATE (no read-modify-write, so concurrent tries on any
    worker all count; a lock that has run out starts the count again); True when the account is now locked."""
    expired = StaffUser.locked_until <= now
    count = session.execute(
        update(StaffUser).where(StaffUser.id == staff_id)
        .values(failed_logins=case((expired, 1), else_=StaffUser.failed_logins + 1),
                locked_until=case((expired, None), else_=StaffUser.locked_until))
        .returning(StaffUser.failed_logins)).scalar_one()
    if count >= limit:
        session.execute(update(StaffUser).where(StaffUser.id == staff_id).values(locked_until=now + lockout))
    session.expire_all()
    return count >= limit


def clear_failed_logins(session: Session, staff_id: int, now: datetime) -> bool:
    """Reset the failure count after a right password, unless a concurrent failure locked the account
    meanwhile; True when the login may go on."""
    result = session.execute(
        update(StaffUser).where(StaffUser.id == staff_id,
                                or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now))
        .values(failed_logins=0, locked_until=None))
    session.expire_all()
    return result.rowcount == 1


#: How long failures of a name without an account are remembered (a real account's are until it logs in).
UNKNOWN_LOGIN_MEMORY = timedelta(days=1)


def _unknown_login_key(username: str) -> str:
    return "login:" + username.casefold()


def unknown_login_locked(session: Session, username: str, now: datetime) -> bool:
    """A name without an account is "locked" like a real one, so the lockout does not tell them apart."""
    return counters.locked_until(session, _unknown_login_key(username), now) is not None


def count_unknown_login(session: Session, username: str, limit: int, lockout: timedelta, now: datetime) -> bool:
    """Count a failed login of a name without an account, as ``count_failed_login`` does for an account."""
    key = _unknown_login_key(username)
    if counters.count_hit(session, key, UNKNOWN_LOGIN_MEMORY, now) < limit:
        return False
    counters.lock(session, key, now + lockout)
    return True


def end_sessions(user: StaffUser) -> None:
    """End every console session of ``user`` on every worker: each request compares its cookie's epoch."""
    user.session_epoch = StaffUser.session_epoch + 1  # type: ignore[assignment]  # one UPDATE, no lost bump


def change_role(user: StaffUser, role: str) -> None:
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    user.role = role
    end_sessions(user)


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


#: How long a link code from the console stays valid, and how many characters it has.
LINK_CODE_TTL = timedelta(minutes=15)
LINK_CODE_LENGTH = 8
_LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen and typed


def find_staff(session: Session, name: str) -> StaffUser | None:
    """The account whose username or display name is ``name`` (any case); usernames first."""
    wanted = name.strip().casefold()
    if not wanted:
        return None
    for column in (StaffUser.username, StaffUser.display_name):
        found = session.scalars(select(StaffUser).where(func.lower(column) == wanted).order_by(StaffUser.id)).first()
        if found is not None:
            return found
    return None


def link_platform(session: Session, staff: StaffUser, platform: str, platform_user_id: str) -> StaffLink:
    """``platform_user_id`` now acts as ``staff`` (one account per platform each way: an earlier
    link of either side is replaced)."""
    platform_user_id = platform_user_id.strip()
    if not platform_user_id.lstrip("-").isdigit():
        raise StaffError(f"a {platform} user id is a number, not {platform_user_id!r}")
    session.execute(delete(StaffLink).where(StaffLink.platform == platform, or_(
        StaffLink.platform_user_id == platform_user_id, StaffLink.staff_id == staff.id)))
    link = StaffLink(platform=platform, platform_user_id=platform_user_id, staff_id=staff.id)
    session.add(link)
    session.flush()
    return link


def linked_staff(session: Session, platform: str, platform_user_id: str) -> StaffUser | None:
    """The active staff account this platform user is linked to, if any."""
    return session.scalar(select(StaffUser).join(StaffLink, StaffLink.staff_id == StaffUser.id).where(
        StaffLink.platform == platform, StaffLink.platform_user_id == platform_user_id, StaffUser.active))


def create_link_code(session: Session, staff: StaffUser) -> str:
    """A one-time code the staff member sends to the bot (``/link CODE``) to link their account."""
    code = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    KeyValueStore(session).put(f"staff-link:{code}", {"staff_id": staff.id}, ttl=LINK_CODE_TTL)
    return code


def redeem_link_code(session: Session, code: str, platform: str, platform_user_id: str) -> StaffUser | None:
    """Link the sender to the code's account; None for a wrong, used or expired code. Of two
    senders of one code only the first succeeds (the code's row is deleted once)."""
    store, key = KeyValueStore(session), f"staff-link:{code.strip().upper()}"
    value = store.get(key)
    if value is None or not store.remove(key):
        return None
    staff = session.get(StaffUser, value["staff_id"])
    if staff is None or not staff.active:
        return None
    link_platform(session, staff, platform, platform_user_id)
    return staff


def revoke_api_tokens(session: Session, name: str) -> list[int]:
    """Revoke every live token called ``name`` (it answers 401 from now on); the ids revoked."""
    tokens = list(session.scalars(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))))
    if not tokens:
        raise StaffError(f"no live API token named {name!r}")
    for token in tokens:
        token.revoked_at = utcnow()
    return [token.id for token in tokens]
