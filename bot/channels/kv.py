"""Small shared state for channels (tokens, cursors, numbered buttons, reply windows, long payloads).

Each call is its own short transaction over ``storage.repositories.KeyValueStore``, so every
worker sees the same rows and nothing lives only in one process. Expired rows read as absent;
the ``kv.purge`` job deletes them.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storage.db import Database
from storage.repositories import KeyValueStore


def get(db: Database, key: str) -> dict[str, Any] | None:
    """The value under ``key``, or None when absent or expired."""
    with db.session() as session:
        return KeyValueStore(session).get(key)


def put(db: Database, key: str, value: dict[str, Any], expires_at: datetime | None = None, *,
        ttl: timedelta | None = None) -> None:
    with db.session() as session:
        KeyValueStore(session).put(key, value, ttl=ttl, expires_at=expires_at)


def remove(db: Database, key: str) -> bool:
    """Delete ``key``; True when there was a row."""
    with db.session() as session:
        return KeyValueStore(session).remove(key)
