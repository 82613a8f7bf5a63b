"""Telegram: ``api`` (the Bot, commands, errors), ``parse`` (updates in), ``render`` (text and
keyboards out), ``files``, ``polling``, ``webhook`` and ``channel`` (the ``Channel`` itself)."""
from __future__ import annotations

from bot.channels.registry import ChannelKind
from bot.channels.telegram.api import ALLOWED_UPDATES, CHANNEL, set_webhook
from bot.channels.telegram.channel import TelegramChannel, build_telegram_channels, telegram_configured
from bot.channels.telegram.parse import chat_of, language_of
from bot.channels.telegram.polling import POLL_TIMEOUT
from bot.channels.telegram.render import MAX_TEXT, button_rows, render_text, split_text, utf16_len

KIND = ChannelKind(CHANNEL, telegram_configured, build_telegram_channels)

__all__ = ["ALLOWED_UPDATES", "CHANNEL", "KIND", "MAX_TEXT", "POLL_TIMEOUT", "TelegramChannel", "button_rows",
           "chat_of", "language_of", "render_text", "set_webhook", "split_text", "utf16_len"]
