"""The outbox: every reply is a row first, then a send. A failed send never loses the reply.

Rows are written by ``storage.outbox.enqueue`` (the engine, notices, an agent's words).
``OutboxSender`` drains them per channel, in order
per chat, with retries and backoff; on PostgreSQL several workers share it through
``FOR UPDATE SKIP LOCKED``.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.channels.base import DeferredSendError, PermanentSendError, TemporarySendError
from bot.channels.toolkit import SentParts
from bot.workers import PollingWorker, claim_in_chat_order, release_leases
from storage.models import OutboxItem, utcnow
from storage.outbox import LEASE, parts_sent, record_parts_sent

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from storage.db import Database

log = logging.getLogger(__name__)

#: How long a deferred reply waits if the customer does not write again.
DEFER = timedelta(days=3650)


def backoff(attempt: int) -> float:
    """Seconds to wait after the n-th failed try: 2, 4, 8 ... capped at 10 minutes."""
    return float(min(2 ** attempt, 600))


class OutboxSender(PollingWorker):
    """Background worker delivering pending replies through their channels."""

    name = "outbox-sender"

    def __init__(self, db: "Database", channels: dict[str, "Channel"], max_attempts: int, poll_seconds: float) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.channels = channels
        self.max_attempts = max_attempts

    def claim(self, limit: int = 20) -> list[OutboxItem]:
        pushing = [name for name, channel in self.channels.items() if channel.pushes]
        return claim_in_chat_order(self.db, OutboxItem, pushing, LEASE, limit)

    async def step(self) -> int:
        return await self.drain_once()

    async def drain_once(self) -> int:
        items = await asyncio.to_thread(self.claim)
        for done, item in enumerate(items):
            if self.stopping:
                await asyncio.to_thread(release_leases, self.db, OutboxItem, [i.id for i in items[done:]])
                return done
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        channel = self.channels[item.channel]
        values: dict[str, object]
        sent = SentParts(parts_sent(item), record=lambda done: self._record_parts(item.id, done))
        try:
            platform_id = await channel.send_row(item.chat_id, item.payload, sent)
        except TemporarySendError as exc:
            if item.attempts >= self.max_attempts:
                values = {"status": "failed", "last_error": f"gave up after {item.attempts} tries: {exc}"}
                log.error("outbox %s failed for good (conversation %s): %s", item.id, item.conversation_id, exc)
            else:
                wait = exc.retry_after if exc.retry_after is not None else backoff(item.attempts)
                values = {"next_attempt_at": utcnow() + timedelta(seconds=wait), "last_error": str(exc)}
                log.warning("outbox %s retry in %.0fs (conversation %s): %s", item.id, wait, item.conversation_id, exc)
        except DeferredSendError as exc:
            values = {"next_attempt_at": utcnow() + DEFER, "last_error": str(exc), "attempts": item.attempts - 1}
            log.info("outbox %s deferred until the customer writes (conversation %s): %s", item.id, item.conversation_id, exc)
        except PermanentSendError as exc:
            values = {"status": "failed", "last_error": str(exc)}
            log.error("outbox %s failed (conversation %s): %s", item.id, item.conversation_id, exc)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not kill the sender
            log.exception("outbox %s: unexpected send error (conversation %s)", item.id, item.conversation_id)
            values = {"next_attempt_at": utcnow() + timedelta(seconds=backoff(item.attempts)), "last_error": repr(exc)}
            if item.attempts >= self.max_attempts:
                values["status"] = "failed"
        else:
            values = {"status": "sent", "sent_at": utcnow(), "platform_message_id": platform_id, "last_error": None}
        await asyncio.to_thread(self._update, item.id, values)

    def _record_parts(self, item_id: int, done: int) -> None:
        with self.db.session() as session:
            record_parts_sent(session, item_id, done)

    def _update(self, item_id: int, values: dict[str, object]) -> None:
        with self.db.session() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))
