"""The inbox: platform deliveries recorded before they are acknowledged, then handled once.

A webhook answers 200 only after ``accept`` committed the delivery, so a crash after
the answer loses nothing and a crash before it lets the platform deliver again; the
unique (channel, key) drops the repeats. ``InboxWorker`` parses and handles the rows,
one chat's deliveries in arrival order, on any number of workers.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from storage.models import InboxItem, utcnow

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.engine import Engine
    from storage.db import Database

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 8


def accept(db: "Database", channel: str, delivery_key: str, payload: dict[str, Any], chat_id: str | None = None) -> bool:
    """Record a delivery; False when the same one was recorded before (a repeat to drop)."""
    dialect = postgresql if db.is_postgres else sqlite
    with db.session() as session:
        result = session.execute(
            dialect.insert(InboxItem)
            .values(channel=channel, delivery_key=delivery_key, chat_id=chat_id, payload=payload,
                    status="pending", attempts=0, next_attempt_at=utcnow(), created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["channel", "delivery_key"])
            .returning(InboxItem.id)
        )
        fresh = result.scalar() is not None
    if not fresh:
        log.info("duplicate delivery dropped channel=%s key=%s", channel, delivery_key)
    return fresh


class InboxWorker:
    def __init__(self, db: "Database", engine: "Engine", channels: dict[str, "Channel"], poll_seconds: float = 1.0) -> None:
        self.db = db
        self.engine = engine
        self.channels = channels
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                done = await self.process_once()
            except Exception:  # noqa: BLE001 - survive a database hiccup
                log.exception("inbox pass failed")
                done = 0
            if done:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def claim(self, limit: int = 10) -> list[InboxItem]:
        now = utcnow()
        earlier = aliased(InboxItem)
        with self.db.session() as session:
            query = (
                select(InboxItem)
                .where(
                    InboxItem.status == "pending",
                    InboxItem.next_attempt_at <= now,
                    InboxItem.channel.in_(list(self.channels)),
                    ~exists().where(
                        and_(
                            earlier.channel == InboxItem.channel,
                            earlier.chat_id == InboxItem.chat_id,
                            earlier.status == "pending",
                            earlier.id < InboxItem.id,
                        )
                    ),
                )
                .order_by(InboxItem.id)
                .limit(limit)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True, of=InboxItem)
            items = list(session.scalars(query))
            for item in items:
                item.attempts += 1
                item.next_attempt_at = now + LEASE
            return items

    async def process_once(self) -> int:
        items = await asyncio.to_thread(self.claim)
        for item in items:
            try:
                incomings = await self.channels[item.channel].parse(item.payload)
                await asyncio.to_thread(self.engine.handle_recorded, item.id, incomings)
            except Exception as exc:  # noqa: BLE001 - retried with backoff, then marked failed
                log.exception("inbox %s (%s) failed on try %s", item.id, item.channel, item.attempts)
                values: dict[str, object] = {"last_error": repr(exc)[:2000],
                                             "next_attempt_at": utcnow() + timedelta(seconds=2 ** item.attempts)}
                if item.attempts >= MAX_ATTEMPTS:
                    values["status"] = "failed"
                await asyncio.to_thread(self._update, item.id, values)
        return len(items)

    def _update(self, item_id: int, values: dict[str, object]) -> None:
        with self.db.session() as session:
            session.execute(update(InboxItem).where(InboxItem.id == item_id).values(**values))
