"""The staff room in Telegram: a supergroup with topics (BOT_TELEGRAM_STAFF_CHAT_ID), a forum
topic per customer. What it shows and what staff commands do is handlers/staff_room.py's; this
channel only carries out the outbox rows it queues, through the customers' bot:

- ``topic:<id>``: a post in the customer's topic; the topic is created (``createForumTopic``)
  before its first row, and its id kept (``domain.handoff.set_thread``), so a retry after an
  outage posts into the same topic; ``topic.op`` "open" reopens (and renames) it, "close"
  closes it. A topic deleted by hand is made again on the next row. (A crash between Telegram
  creating the topic and the id being stored makes a second topic on the retry; none is lost.)
- ``chat:<chat id>[:<thread>]``: an answer to one staff member where they wrote.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot.channels.base import Channel, PermanentSendError, SendError, TemporarySendError
from bot.channels.telegram.api import send_error
from bot.channels.toolkit import SentParts
from domain import handoff
from handlers.messages import Reply
from storage.db import Database
from storage.models import StaffTopic

log = logging.getLogger(__name__)

STAFF_CHANNEL = "telegram_staff"
#: Telegram's answer to closing a closed topic or reopening an open one: nothing to do.
NOT_MODIFIED = "TOPIC_NOT_MODIFIED"
#: Telegram's answer for a topic that no longer exists (deleted in the group).
THREAD_GONE = "thread not found"

SendReply = Callable[[str, Reply, "SentParts | None", "int | None"], Awaitable["str | None"]]


class StaffRoomChannel(Channel):
    name = STAFF_CHANNEL

    def __init__(self, bot: Bot, room: str, send_reply: SendReply, db: Database) -> None:
        self.bot, self.room, self.send_reply, self.db = bot, room, send_reply, db

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        return await self.send_row(chat_id, reply.to_dict(), sent)

    async def send_row(self, chat_id: str, payload: dict[str, Any], sent: SentParts | None = None) -> str | None:
        reply = Reply.from_dict(payload)
        if chat_id.startswith("chat:"):
            target, _, thread = chat_id.removeprefix("chat:").partition(":")
            return await self.send_reply(target, reply, sent, int(thread) if thread else None)
        topic_id = int(chat_id.removeprefix("topic:"))
        change = payload.get("topic") or {}
        thread, created = await self._thread(topic_id)
        try:
            if change.get("op") == "close":
                await self._unless_unchanged(self.bot.close_forum_topic(self.room, thread))
            elif change.get("op") == "open" and not created:
                await self._unless_unchanged(self.bot.reopen_forum_topic(self.room, thread))
                if change.get("name"):
                    await self._unless_unchanged(self.bot.edit_forum_topic(self.room, thread, name=change["name"]))
            else:
                return await self.send_reply(self.room, reply, sent, thread)
        except SendError as exc:
            if THREAD_GONE not in str(exc):
                raise
            await asyncio.to_thread(self._remember, topic_id, None)
            raise TemporarySendError("the staff topic was deleted in the group; it is made again",
                                     retry_after=0) from exc
        return None

    async def _unless_unchanged(self, call: Awaitable[bool]) -> None:
        """A topic change, in the outbox's terms; "already so" counts as done."""
        try:
            await call
        except TelegramError as exc:
            if NOT_MODIFIED not in str(exc):
                raise send_error(exc) from exc

    async def _thread(self, topic_id: int) -> tuple[int, bool]:
        """The topic's thread id, creating the forum topic first if it has none yet: (id, created?)."""
        thread, title = await asyncio.to_thread(self._load, topic_id)
        if thread is not None:
            return int(thread), False
        try:
            topic = await self.bot.create_forum_topic(self.room, title)
        except TelegramError as exc:
            raise send_error(exc) from exc
        await asyncio.to_thread(self._remember, topic_id, str(topic.message_thread_id))
        log.info("staff room: topic %s created for staff topic %s", topic.message_thread_id, topic_id)
        return topic.message_thread_id, True

    def _load(self, topic_id: int) -> tuple[str | None, str]:
        with self.db.session() as session:
            topic = session.get(StaffTopic, topic_id)
            if topic is None:
                raise PermanentSendError(f"staff topic {topic_id} does not exist")
            return topic.thread_id, topic.title

    def _remember(self, topic_id: int, thread: str | None) -> None:
        with self.db.session() as session:
            handoff.set_thread(session, topic_id, thread)
