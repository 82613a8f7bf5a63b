"""Long polling: getUpdates into the inbox, the offset stored for every worker."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram import Bot
from telegram.error import Conflict, InvalidToken

from bot.channels import kv
from bot.channels.telegram.api import ALLOWED_UPDATES, CHANNEL, register_commands
from bot.channels.telegram.parse import chat_of
from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)

#: Seconds a getUpdates call waits on Telegram's side for something to arrive.
POLL_TIMEOUT = 30
OFFSET_KEY = "telegram:offset"


class Poller:
    """Fetches updates and records them like the webhook does."""

    def __init__(self, bot: Bot, db: Database, default_language: str, wake_inbox: Callable[[], None]) -> None:
        self.bot = bot
        self.db = db
        self.default_language = default_language
        self.wake_inbox = wake_inbox

    def load_offset(self) -> int | None:
        value = kv.get(self.db, OFFSET_KEY)
        return int(value["offset"]) if value else None

    def save_offset(self, offset: int) -> None:
        kv.put(self.db, OFFSET_KEY, {"offset": offset})

    async def poll_once(self, timeout: int = 0) -> int:
        """One getUpdates call: record each update like the webhook does, then move the stored offset.

        A crash between the two fetches the same updates again; the inbox drops the repeats.
        """
        offset = await asyncio.to_thread(self.load_offset)
        updates = await self.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
        for update in updates:
            raw = update.to_dict()
            await asyncio.to_thread(inbox.accept, self.db, CHANNEL, str(update.update_id), raw, chat_of(raw))
        if updates:
            await asyncio.to_thread(self.save_offset, updates[-1].update_id + 1)
            self.wake_inbox()
        return len(updates)

    async def _prepare(self) -> None:
        me = await self.bot.get_me()
        await self.bot.delete_webhook(drop_pending_updates=False)
        await register_commands(self.bot, self.default_language)
        log.info("telegram: polling as @%s", me.username)

    async def poll_forever(self) -> None:
        prepared = False
        failures = 0
        while True:
            try:
                if not prepared:
                    await self._prepare()
                    prepared = True
                await self.poll_once(POLL_TIMEOUT)
                failures = 0
            except asyncio.CancelledError:
                raise
            except (Conflict, InvalidToken) as exc:
                failures += 1
                log.error("telegram polling refused (%s): is another process polling this bot, "
                          "or is BOT_TELEGRAM_TOKEN wrong?", exc)
            except Exception as exc:  # noqa: BLE001 - a network or database hiccup must not end polling
                failures += 1
                log.warning("telegram polling failed (%s); retrying", exc)
            if failures:
                await asyncio.sleep(min(2 ** failures, 60))
