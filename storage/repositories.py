"""The few queries every layer needs, written once: insert-or-ignore / insert-or-update on
either database, a row lock that is a no-op where the database has none, the conversation of
a chat (created and locked), all identities of one person, and the key-value store with expiry.

SQLite serialises writers with ``BEGIN IMMEDIATE`` (see storage/db.py), so ``FOR UPDATE`` is
only emitted on PostgreSQL; callers write the same code for both.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from storage.models import Conversation, Customer, KeyValue, utcnow

T = TypeVar("T")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def dialect_insert(session: Session, model: type) -> Insert:
    dialect = postgresql if is_postgres(session) else sqlite
    return dialect.insert(model)  # type: ignore[return-value]


def insert_ignore(session: Session, model: type, values: dict[str, Any], conflict: list[str],
                  returning: Any = None) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING; with ``returning``, that column of the new row or None
    when the row existed already."""
    statement = dialect_insert(session, model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    if returning is None:
        session.execute(statement)
        return None
    return session.execute(statement.returning(returning)).scalar()


def upsert(session: Session, model: type, values: dict[str, Any], conflict: list[str],
           update: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE SET ``update``."""
    session.execute(dialect_insert(session, model).values(**values).on_conflict_do_update(
        index_elements=conflict, set_=update))


def lock_for_update(session: Session, query: Select, **options: Any) -> Select:
    """``query`` with ``FOR UPDATE`` (and ``options`` such as ``skip_locked``, ``of``) on
    PostgreSQL; unchanged on SQLite, where the transaction already holds the only write lock."""
    return query.with_for_update(**options) if is_postgres(session) else query


def get_locked(session: Session, model: type[T], row_id: Any) -> T | None:
    """The row by primary key, locked for the rest of the transaction."""
    return session.get(model, row_id, with_for_update=True if is_postgres(session) else None)


def lock_conversation(session: Session, channel: str, chat_id: str, user_id: str,
                      user_name: str | None = None) -> Conversation:
    """Find or create the customer and the chat's conversation and hold the conversation's row
    lock until commit, so one chat's messages are handled one after another, on any worker."""
    now = utcnow()
    insert_ignore(session, Customer, {"channel": channel, "external_id": user_id, "display_name": user_name,
                                      "created_at": now}, ["channel", "external_id"])
    customer_id = session.scalars(
        select(Customer.id).where(Customer.channel == channel, Customer.external_id == user_id)).one()
    insert_ignore(session, Conversation, {"customer_id": customer_id, "channel": channel, "chat_id": chat_id,
                                          "state_data": {}, "mode": "bot", "created_at": now},
                  ["channel", "chat_id"])
    query = select(Conversation).where(Conversation.channel == channel, Conversation.chat_id == chat_id)
    return session.scalars(lock_for_update(session, query.execution_options(populate_existing=True),
                                           of=Conversation)).one()


def lock_conversation_by_id(session: Session, conversation_id: int) -> Conversation:
    """The conversation by id, with the same row lock as ``lock_conversation`` (staff actions)."""
    query = select(Conversation).where(Conversation.id == conversation_id)
    return session.scalars(lock_for_update(session, query.execution_options(populate_existing=True),
                                           of=Conversation)).one()


def person_customer_ids(customer: Customer) -> Select:
    """A subquery of the ids of every identity linked to ``customer``'s person (itself included)."""
    person = customer.person
    return select(Customer.id).where(or_(Customer.id == person, Customer.person_id == person))


class KeyValueStore:
    """Small shared state for all workers (tokens, cursors, counters, long payloads), in the
    caller's transaction. An expired value reads as absent; ``purge_expired`` deletes the rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> dict[str, Any] | None:
        return self.session.scalar(select(KeyValue.value).where(
            KeyValue.key == key, or_(KeyValue.expires_at.is_(None), KeyValue.expires_at > utcnow())))

    def get_locked(self, key: str) -> KeyValue | None:
        """The live row under ``key``, locked (for read-modify-write such as counters)."""
        row = get_locked(self.session, KeyValue, key)
        if row is not None and row.expires_at is not None and row.expires_at <= utcnow():
            return None
        return row

    def put(self, key: str, value: dict[str, Any], *, ttl: timedelta | None = None,
            expires_at: datetime | None = None) -> None:
        now = utcnow()
        expires = expires_at if expires_at is not None else (now + ttl if ttl is not None else None)
        upsert(self.session, KeyValue, {"key": key, "value": value, "expires_at": expires, "updated_at": now},
               ["key"], {"value": value, "expires_at": expires, "updated_at": now})

    def remove(self, key: str) -> bool:
        return bool(self.session.execute(delete(KeyValue).where(KeyValue.key == key)).rowcount)

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete every expired row; returns how many."""
        moment = now or utcnow()
        result = self.session.execute(delete(KeyValue).where(
            KeyValue.expires_at.is_not(None), KeyValue.expires_at <= moment))
        return int(result.rowcount or 0)
