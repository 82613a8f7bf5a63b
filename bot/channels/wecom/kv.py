"""Small shared state in the ``kv`` table: tokens, sync cursors, numbered buttons, reply windows.

Every worker reads and writes the same rows, so nothing here lives only in one process.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import KeyValue, utcnow


def get(db: Database, key: str) -> dict[str, Any] | None:
    """The value under ``key``, or None when absent or expired."""
    with db.session() as session:
        return session.scalar(
            select(KeyValue.value).where(
                KeyValue.key == key, or_(KeyValue.expires_at.is_(None), KeyValue.expires_at > utcnow())
            )
        )


def put(db: Database, key: str, value: dict[str, Any], expires_at: datetime | None = None) -> None:
    dialect = postgresql if db.is_postgres else sqlite
    now = utcnow()
    with db.session() as session:
        session.execute(
            dialect.insert(KeyValue)
            .values(key=key, value=value, expires_at=expires_at, updated_at=now)
            .on_conflict_do_update(index_elements=["key"],
                                   set_={"value": value, "expires_at": expires_at, "updated_at": now})
        )


def remove(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(delete(KeyValue).where(KeyValue.key == key))
