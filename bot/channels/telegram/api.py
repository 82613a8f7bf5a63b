"""The Bot API side: building the ``Bot``, the "/" command menu, webhook registration, and
Telegram's errors in the outbox's terms.

Only python-telegram-bot's ``Bot`` is used, not its ``Application``: every update is recorded in
the inbox first (one durable path for both modes, repeats dropped by update_id) and conversation
state lives in the database, so ConversationHandler and PTB persistence, which load once per
process, have no place with several workers.
"""
from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import Bot, BotCommand
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.base import PermanentSendError, SendError, TemporarySendError
from bot.config import Settings
from handlers.i18n import t

CHANNEL = "telegram"
#: Only these updates are asked for; edited messages are not (an edit is not a new question).
ALLOWED_UPDATES = ["message", "callback_query"]
COMMANDS = ("start", "menu", "help", "lang")


def build_bot(settings: Settings, request: BaseRequest | None = None,
              get_updates_request: BaseRequest | None = None) -> Bot:
    """A ``Bot`` for the configured API server; tests hand in a request object of their own."""
    if settings.telegram_token is None:
        raise ValueError("BOT_TELEGRAM_TOKEN is not set")
    return Bot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.effective_telegram_base_file_url,
        request=request,
        get_updates_request=get_updates_request,
    )


async def register_commands(bot: Bot, default_language: str) -> None:
    """Fill the client's "/" menu with the commands the menu handler understands, in both languages."""
    for language_code in ("zh", "en"):
        commands = [BotCommand(name, t(f"telegram.command.{name}", language_code)) for name in COMMANDS]
        await bot.set_my_commands(commands, language_code=language_code)
    await bot.set_my_commands([BotCommand(name, t(f"telegram.command.{name}", default_language)) for name in COMMANDS])


async def set_webhook(settings: Settings, url: str) -> None:
    """Register ``url`` with Telegram, with the secret it must send back (``telegram set-webhook``)."""
    if settings.telegram_webhook_secret is None:
        raise ValueError("BOT_TELEGRAM_WEBHOOK_SECRET is not set; the webhook would accept anyone's updates")
    request = HTTPXRequest()
    try:
        bot = build_bot(settings, request, request)
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret.get_secret_value(),
                              allowed_updates=ALLOWED_UPDATES)
        await register_commands(bot, settings.default_language)
    finally:
        await request.shutdown()


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(exc: TelegramError) -> SendError:
    """Telegram's answer in the outbox's terms: wait and retry, or give up on this reply."""
    if isinstance(exc, RetryAfter):
        return TemporarySendError("rate limited by Telegram", retry_after=_seconds(exc))
    if isinstance(exc, (Forbidden, BadRequest, ChatMigrated)):
        return PermanentSendError(str(exc))
    if isinstance(exc, InvalidToken):
        return TemporarySendError("Telegram rejected the token (check BOT_TELEGRAM_TOKEN)")
    return TemporarySendError(str(exc))
