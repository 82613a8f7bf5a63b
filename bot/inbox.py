"""The inbox: platform deliveries recorded before they are acknowledged, then handled once.

A webhook answers 200 only after ``storage.inbox.accept`` committed the delivery, so a crash after
the answer loses nothing and a crash before it lets the platform deliver again; the
unique (channel, key) drops the repeats. ``InboxWorker`` parses and handles the rows,
one chat's deliveries in arrival order, on any number of workers.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from bot.channels.base import UnparseableDelivery
from bot.workers import PollingWorker, claim_in_chat_order, release_leases
from handlers.messages import Incoming, StaffIncoming
from storage.models import Conversation, InboxItem, utcnow

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.engine import Engine
    from storage.db import Database

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 8


class InboxWorker(PollingWorker):
    name = "inbox-worker"

    def __init__(self, db: "Database", engine: "Engine", channels: dict[str, "Channel"], poll_seconds: float = 1.0) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.engine = engine
        self.channels = channels

    def claim(self, limit: int = 10) -> list[InboxItem]:
        return claim_in_chat_order(self.db, InboxItem, list(self.channels), LEASE, limit)

    async def step(self) -> int:
        return await self.process_once()

    async def process_once(self) -> int:
        items = await asyncio.to_thread(self.claim)
        for done, item in enumerate(items):
            if self.stopping:
                await asyncio.to_thread(release_leases, self.db, InboxItem, [i.id for i in items[done:]])
                return done
            try:
                channel = self.channels[item.channel]
                incomings = await channel.parse(item.payload)
                await self._show_typing(channel, incomings)
                await asyncio.to_thread(self.engine.handle_recorded, item.id, incomings)
            except UnparseableDelivery as exc:
                log.warning("inbox %s (%s) unparseable, kept for inspection: %s", item.id, item.channel, exc)
                await asyncio.to_thread(self._update, item.id, {"status": "unparseable", "last_error": str(exc)[:2000]})
            except Exception as exc:  # noqa: BLE001 - retried with backoff, then marked failed
                log.exception("inbox %s (%s) failed on try %s", item.id, item.channel, item.attempts)
                values: dict[str, object] = {"last_error": repr(exc)[:2000],
                                             "next_attempt_at": utcnow() + timedelta(seconds=2 ** item.attempts)}
                if item.attempts >= MAX_ATTEMPTS:
                    values["status"] = "failed"
                await asyncio.to_thread(self._update, item.id, values)
        return len(items)

    async def _show_typing(self, channel: "Channel", incomings: list[Incoming | StaffIncoming]) -> None:
        """The bot is about to prepare a reply: the customer sees it typing. Awaited before the
        turn is handled, so it always reaches the platform before the reply (queued by the
        turn's commit); not in a chat an agent holds, where the bot stays silent."""
        chats = {i.chat_id for i in incomings if isinstance(i, Incoming)}
        for chat_id in sorted(chats):
            if await asyncio.to_thread(self._bot_answers, channel.name, chat_id):
                await channel.show_typing(chat_id)

    def _bot_answers(self, channel: str, chat_id: str) -> bool:
        with self.db.session() as session:
            mode = session.scalar(select(Conversation.mode).where(Conversation.channel == channel,
                                                                  Conversation.chat_id == chat_id))
        return mode != "human"

    def _update(self, item_id: int, values: dict[str, object]) -> None:
        with self.db.session() as session:
            session.execute(update(InboxItem).where(InboxItem.id == item_id).values(**values))
