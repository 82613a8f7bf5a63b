"""Recorded updates as ``Incoming`` messages: private messages and button presses; with a staff
room, the staff group's messages and ``/link`` commands as ``StaffIncoming``. Nothing else."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, CallbackQuery, Message, Update
from telegram.error import TelegramError

from bot.channels.base import UnparseableDelivery
from bot.channels.telegram.api import CHANNEL
from bot.channels.telegram.files import download_files, download_voice
from bot.channels.telegram.render import Keyboards
from handlers.messages import Incoming, StaffIncoming
from storage.attachments import AttachmentStore

log = logging.getLogger(__name__)


def chat_of(update: dict[str, Any]) -> str | None:
    """The chat an update belongs to, read before parsing so the inbox keeps each chat in order."""
    try:
        for kind in ("message", "edited_message"):
            if kind in update:
                return str(update[kind]["chat"]["id"])
        query = update.get("callback_query")
        if query:
            message = query.get("message")
            return str(message["chat"]["id"] if message else query["from"]["id"])
    except (KeyError, TypeError):
        pass
    return None


def language_of(code: str | None) -> str | None:
    """The client's interface language as a hint: zh-hans, zh-hant... -> zh; en-GB... -> en."""
    if not code:
        return None
    base = code.split("-")[0].lower()
    return base if base in ("zh", "en") else None


def _update_of(payload: dict[str, Any], bot: Bot) -> Update:
    """The update, or ``UnparseableDelivery`` when its shape is not Telegram's (no retry would change that)."""
    try:
        update = Update.de_json(payload, bot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnparseableDelivery(f"telegram update does not parse: {exc.__class__.__name__}: {exc}") from exc
    message = update.message
    if message is not None and message.chat is None:
        raise UnparseableDelivery("telegram message without a chat")
    if message is not None and not all(isinstance(v, str | None) for v in (message.text, message.caption)):
        raise UnparseableDelivery("telegram update's text or caption is not a string")
    return update


def chat_address(chat_id: int | str, thread: int | str | None = None) -> str:
    """How the staff room's channel addresses a chat (and a topic in it) for a direct answer."""
    return f"chat:{chat_id}" if thread is None else f"chat:{chat_id}:{thread}"


def is_link_command(text: str | None) -> bool:
    return bool(text) and text.split(maxsplit=1)[0].split("@", 1)[0].lower() == "/link"


async def _parse_staff(message: Message, bot: Bot, attachments: AttachmentStore) -> list[StaffIncoming]:
    """A person's message in the staff group (what it means is handlers/staff_room.py's business),
    or a ``/link`` in a private chat; the bots' own and service messages give nothing."""
    user = message.from_user
    if user is None or user.is_bot:
        return []
    private = message.chat.type == "private"
    thread = message.message_thread_id if message.is_topic_message else None
    return [StaffIncoming(
        user_id=str(user.id),
        room=None if private else str(message.chat.id),
        thread=None if thread is None else str(thread),
        reply_to=chat_address(message.chat.id, thread),
        text=message.text or message.caption or "",
        files=[] if private else await download_files(bot, message, attachments.max_bytes),
        message_id=str(message.message_id),
    )]


async def parse_update(payload: dict[str, Any], bot: Bot, keyboards: Keyboards, attachments: AttachmentStore,
                       staff_chat: str | None = None) -> list[Incoming | StaffIncoming]:
    """A recorded update as messages for the engine; kinds not asked for (edits, channel posts,
    group chats other than the staff group) give nothing. Files are downloaded here, so a retry
    downloads again."""
    update = _update_of(payload, bot)
    if update.callback_query is not None:
        return list(await _parse_press(update.callback_query, keyboards))
    message = update.message
    if message is not None and staff_chat is not None and (
            str(message.chat.id) == staff_chat or (message.chat.type == "private" and is_link_command(message.text))):
        return list(await _parse_staff(message, bot, attachments))
    if message is None or message.chat.type != "private" or message.from_user is None:
        log.debug("telegram update %s ignored (not a private message)", update.update_id)
        return []
    user = message.from_user
    chat_id = str(message.chat.id)
    incoming = Incoming(
        channel=CHANNEL,
        chat_id=chat_id,
        user_id=str(user.id),
        text=message.text or message.caption or "",
        message_id=str(message.message_id),
        user_name=user.full_name,
        lang_hint=language_of(user.language_code),
    )
    if message.contact is not None and message.contact.user_id == user.id:
        incoming.contact_phone = message.contact.phone_number
    if message.text:
        pressed = await asyncio.to_thread(keyboards.keyboard_payload, chat_id, message.text)
        if pressed is not None:
            incoming.button, incoming.text = pressed, ""
    incoming.files = await download_files(bot, message, attachments.max_bytes)
    incoming.voice = await download_voice(bot, message, attachments.max_bytes)
    return [incoming]


async def _parse_press(query: CallbackQuery, keyboards: Keyboards) -> list[Incoming]:
    try:
        await query.answer()  # stops the spinner on the button
    except TelegramError as exc:  # too old after a retry, or Telegram unreachable: the press still counts
        log.info("telegram callback query not answered: %s", exc)
    message = query.message
    if query.data is None or (message is not None and message.chat.type != "private"):
        return []
    payload = await asyncio.to_thread(keyboards.payloads.payload_of, query.data)
    return [Incoming(
        channel=CHANNEL,
        chat_id=str(message.chat.id if message is not None else query.from_user.id),
        user_id=str(query.from_user.id),
        button=payload,
        message_id=str(message.message_id) if message is not None else None,
        user_name=query.from_user.full_name,
        lang_hint=language_of(query.from_user.language_code),
    )]
