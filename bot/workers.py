"""What the background workers (outbox sender, inbox worker, job runner) share."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from storage.db import Database
from storage.models import InboxItem, OutboxItem, utcnow
from storage.repositories import lock_for_update

log = logging.getLogger(__name__)

QueueRow = TypeVar("QueueRow", InboxItem, OutboxItem)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Stop a background task and wait until it has really stopped."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


class PollingWorker:
    """A loop that calls ``step()`` while it finds work, then waits for ``wake()`` or the poll interval.

    ``stop()`` is graceful: the work in hand (a send, a turn) finishes, what was claimed but not
    begun is handed back at once (``stopping`` tells ``step`` to stop early), and only past the
    grace period is the loop cancelled."""

    name = "worker"

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.stopping = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Started and still looping (for ``/readyz``)."""
        return self._task is not None and not self._task.done()

    async def step(self) -> int:
        """Do one batch of work; return how much was done (0 means idle)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Ask for a pass now (after a commit that queued work); safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self.stopping = False
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_seconds: float = 0.0) -> None:
        """Let the work in hand finish (up to ``grace_seconds``), then end the loop."""
        self.stopping = True
        self._wake.set()
        if self._task is not None and grace_seconds > 0:
            await asyncio.wait([self._task], timeout=grace_seconds)
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while not self.stopping:
            try:
                done = await self.step()
            except Exception:  # noqa: BLE001 - the worker must survive a database hiccup
                log.exception("%s pass failed", self.name)
                done = 0
            if done or self.stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()


def claim_in_chat_order(db: Database, model: type[QueueRow], channels: list[str], lease: timedelta,
                        limit: int) -> list[QueueRow]:
    """Lease due pending rows whose chat has no earlier pending row, so each chat stays in order;
    on PostgreSQL rows another worker holds are skipped (``FOR UPDATE SKIP LOCKED``)."""
    now = utcnow()
    earlier = aliased(model)
    with db.session() as session:
        query = (
            select(model)
            .where(
                model.status == "pending",
                model.next_attempt_at <= now,
                model.channel.in_(channels),
                ~exists().where(and_(earlier.channel == model.channel, earlier.chat_id == model.chat_id,
                                     earlier.status == "pending", earlier.id < model.id)),
            )
            .order_by(model.id)
            .limit(limit)
        )
        rows = list(session.scalars(lock_for_update(session, query, skip_locked=True, of=model)))
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + lease
        return rows


def release_leases(db: Database, model: type[QueueRow], ids: list[int]) -> None:
    """Hand rows claimed but not begun back at once (shutdown), as if never tried: another
    worker takes them now instead of after the lease."""
    if not ids:
        return
    with db.session() as session:
        session.execute(update(model).where(model.id.in_(ids), model.status == "pending")
                        .values(next_attempt_at=utcnow(), attempts=model.attempts - 1))
    log.info("%s: %d claimed rows handed back on shutdown", model.__tablename__, len(ids))
