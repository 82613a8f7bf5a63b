"""Counters behind limits and lockouts, in the database so every worker counts the same hits.

One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per hit: no read-modify-write, so
simultaneous hits on any worker are all counted. The rules (how many, how long) are the caller's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from storage.models.security import LimitCounter
from storage.repositories import dialect_insert

KEY_LENGTH = 200


def _key(key: str) -> str:
    return key[:KEY_LENGTH]


def count_hit(session: Session, key: str, window: timedelta, now: datetime) -> int:
    """Count one hit of ``key``; the hits in the current window (a window older than ``window`` starts again)."""
    stale = LimitCounter.window_start <= now - window
    statement = dialect_insert(session, LimitCounter).values(key=_key(key), hits=1, window_start=now)
    statement = statement.on_conflict_do_update(index_elements=["key"], set_={
        "hits": case((stale, 1), else_=LimitCounter.hits + 1),
        "window_start": case((stale, now), else_=LimitCounter.window_start),
    })
    return int(session.execute(statement.returning(LimitCounter.hits)).scalar_one())


def locked_until(session: Session, key: str, now: datetime) -> datetime | None:
    """Until when ``key`` is locked, or None when it is not (any more)."""
    until = session.scalar(select(LimitCounter.locked_until).where(LimitCounter.key == _key(key)))
    return until if until is not None and until > now else None


def lock(session: Session, key: str, until: datetime) -> None:
    """Lock ``key`` until then and start its count again."""
    session.execute(update(LimitCounter).where(LimitCounter.key == _key(key)).values(locked_until=until, hits=0))


def clear(session: Session, key: str) -> None:
    session.execute(delete(LimitCounter).where(LimitCounter.key == _key(key)))


def purge(session: Session, now: datetime, older_than: timedelta) -> int:
    """Delete the counters whose window began before ``older_than`` ago and that are not locked."""
    result = session.execute(delete(LimitCounter).where(
        LimitCounter.window_start < now - older_than,
        (LimitCounter.locked_until.is_(None)) | (LimitCounter.locked_until < now)))
    return int(result.rowcount or 0)
