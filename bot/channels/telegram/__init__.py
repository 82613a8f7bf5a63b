"""Telegram: ``api`` (the Bot, commands, errors), ``parse`` (updates in), ``render`` (text and
keyboards out), ``files``, ``polling``, ``webhook``, ``channel`` (the ``Channel`` itself) and ``staff`` (the staff
room: a supergroup with a forum topic per handed-off customer)."""
from __future__ import annotations

from bot.channels.registry import ChannelKind
from bot.channels.telegram.api import ALLOWED_UPDATES, CHANNEL, set_webhook
from bot.channels.telegram.channel import TelegramChannel, build_telegram_channels, staff_room, telegram_configured
from bot.channels.telegram.parse import chat_of, language_of
from bot.channels.telegram.polling import POLL_TIMEOUT
from bot.channels.telegram.render import MAX_TEXT, button_rows, render_text, split_text, utf16_len
from bot.channels.telegram.staff import STAFF_CHANNEL, StaffRoomChannel

KIND = ChannelKind(CHANNEL, telegram_configured, build_telegram_channels)

__all__ = ["ALLOWED_UPDATES", "CHANNEL", "KIND", "MAX_TEXT", "POLL_TIMEOUT", "STAFF_CHANNEL", "StaffRoomChannel",
           "TelegramChannel", "button_rows",
           "chat_of", "language_of", "render_text", "set_webhook", "split_text", "staff_room", "utf16_len"]
