"""The Telegram channel: updates in by webhook or long polling, replies out through the Bot API.

The adapter parses and renders; what to answer is the engine's business.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.base import Channel
from bot.channels.telegram.api import CHANNEL, build_bot, send_error
from bot.channels.telegram.files import send_document
from bot.channels.telegram.parse import parse_update
from bot.channels.telegram.polling import POLL_TIMEOUT, Poller
from bot.channels.telegram.render import BUTTONS_ONLY, Keyboards, render_text
from bot.channels.telegram.staff import StaffRoomChannel
from bot.channels.telegram.webhook import webhook_router
from bot.channels.toolkit import SentParts
from bot.config import Settings
from bot.workers import cancel_and_wait
from handlers.messages import Incoming, Reply, StaffIncoming
from handlers.services import Services, StaffRoom

log = logging.getLogger(__name__)


class TelegramChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: Settings, services: Services, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None) -> None:
        self.settings = settings
        self.services = services
        self.mode = settings.telegram_mode
        self._requests = [request or HTTPXRequest(connection_pool_size=8),
                          get_updates_request or HTTPXRequest(read_timeout=POLL_TIMEOUT + 10)]
        self.bot = build_bot(settings, *self._requests)
        self.keyboards = Keyboards(services.db)
        self.poller = Poller(self.bot, services.db, settings.default_language, lambda: services.wake_inbox())
        self.router = None
        if self.mode == "webhook":
            assert settings.telegram_webhook_secret is not None  # the settings insist in webhook mode
            self.router = webhook_router(services.db, settings.telegram_webhook_secret.get_secret_value())
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.mode == "polling":
            self._poller = asyncio.create_task(self.poller.poll_forever(), name="telegram-polling")

    async def stop(self) -> None:
        await cancel_and_wait(self._poller)
        self._poller = None
        for request in self._requests:
            await request.shutdown()

    async def poll_once(self, timeout: int = 0) -> int:
        return await self.poller.poll_once(timeout)

    async def parse(self, payload: dict[str, Any]) -> list[Incoming | StaffIncoming]:
        staff_chat = self.settings.telegram_staff_chat_id
        return await parse_update(payload, self.bot, self.keyboards, self.services.attachments,
                                  None if staff_chat is None else str(staff_chat))

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None,
                   thread: int | None = None) -> str | None:
        """Text pieces first, then stored files as documents; the buttons ride on the last message.
        ``thread``: into that forum topic of a group (the staff room's).

        A reply of several messages goes on from ``sent.done`` (the outbox row's memory), so a
        retry after a 429 or an outage never repeats what the customer already has.
        """
        texts = render_text(reply)
        documents = [f for f in reply.files if f.attachment_id is not None]
        if reply.buttons and not texts and not documents:
            texts = [BUTTONS_ONLY]  # Telegram shows no keyboard without a message to hang it on
        total = len(texts) + len(documents)
        if total == 0:
            return None
        sent = sent or SentParts()
        markup = await asyncio.to_thread(self.keyboards.markup, chat_id, reply.buttons)
        message_id: str | None = None
        for index in sent.remaining(total):
            last = index == total - 1
            try:
                if index < len(texts):
                    message = await self.bot.send_message(chat_id, texts[index], parse_mode=ParseMode.HTML,
                                                          reply_markup=markup if last else None,
                                                          message_thread_id=thread)
                else:
                    message = await send_document(self.bot, self.services.db, self.services.attachments, chat_id,
                                                  documents[index - len(texts)], markup if last else None, thread)
            except TelegramError as exc:
                raise send_error(exc) from exc
            message_id = str(message.message_id)
            if not last:
                await asyncio.to_thread(sent.mark, index + 1)
        return message_id

    async def show_typing(self, chat_id: str) -> None:
        """``sendChatAction`` typing: Telegram shows it for five seconds or until our next message."""
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.warning("chat=%s typing not shown: %s", chat_id, exc)


def telegram_configured(settings: Settings) -> bool:
    """On when a mode is chosen and BOT_TELEGRAM_TOKEN is given."""
    return settings.telegram_mode != "off" and bool(settings.telegram_token)


def build_telegram_channels(settings: Settings, services: Services) -> dict[str, Channel]:
    """The customers' channel, and with BOT_TELEGRAM_STAFF_CHAT_ID the staff room's beside it."""
    telegram = TelegramChannel(settings, services)
    channels: dict[str, Channel] = {CHANNEL: telegram}
    room = staff_room(telegram)
    if room is not None:
        channels[room.name] = room
    return channels


def staff_room(telegram: TelegramChannel) -> StaffRoomChannel | None:
    """With BOT_TELEGRAM_STAFF_CHAT_ID: the staff room's channel over the customers' bot, named
    in the services so the handoff's listeners post there."""
    chat = telegram.settings.telegram_staff_chat_id
    if chat is None:
        return None
    room = StaffRoomChannel(telegram.bot, str(chat), telegram.send, telegram.services.db)
    telegram.services.staff_room = StaffRoom(room.name, str(chat), CHANNEL)
    return room
