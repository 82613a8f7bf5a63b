"""A bot wired to the fake Bot API: the real runtime, engine, inbox, outbox and web app.

Nothing runs in the background: ``settle()`` drives the inbox worker and the outbox sender
until they have nothing left that is due, and ``make_due()`` stands in for waiting out a
backoff, so no test depends on the clock.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_bot_api import BASE_URL, SECRET, STAFF_CHAT_ID, TOKEN, FakeBotApi, FakeRequest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import update

from bot.app import Runtime
from bot.channels.telegram import TelegramChannel, staff_room
from bot.config import Settings
from bot.web.app import create_app
from storage.models import InboxItem, OutboxItem, utcnow
from tests.testbot import build_runtime


def telegram_settings(settings: Settings, mode: str = "webhook") -> Settings:
    return settings.model_copy(update={
        "telegram_token": SecretStr(TOKEN),
        "telegram_mode": mode,
        "telegram_webhook_secret": SecretStr(SECRET),
        "telegram_base_url": BASE_URL,
    })


@dataclass
class Harness:
    api: FakeBotApi
    runtime: Runtime
    channel: TelegramChannel
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def db(self) -> Any:
        return self.runtime.services.db

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post("/telegram/webhook", json=update, headers=headers)

    async def settle(self) -> None:
        """Handle every recorded update and send every reply that is due."""
        assert self.runtime.inbox and self.runtime.outbox
        while await self.runtime.inbox.process_once() + await self.runtime.outbox.drain_once():
            pass

    def make_due(self) -> None:
        """Let the backoff of every waiting reply and delivery run out now."""
        with self.db.session() as session:
            session.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(next_attempt_at=utcnow()))
            session.execute(update(InboxItem).where(InboxItem.status == "pending").values(next_attempt_at=utcnow()))

    def new_channel(self, mode: str | None = None) -> TelegramChannel:
        """Another channel over the same database: a second worker, or this one after a restart."""
        settings = self.runtime.services.settings
        if mode is not None:
            settings = settings.model_copy(update={"telegram_mode": mode})
        return TelegramChannel(settings, self.runtime.services, request=FakeRequest(self.api),
                               get_updates_request=FakeRequest(self.api))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """PTB warns, from inside its own RetryAfter, that retry_after will become a timedelta;
    the channel reads both forms, so the notice is only noise in these tests."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"))


@pytest.fixture
def api() -> FakeBotApi:
    return FakeBotApi()


async def _harness(settings: Settings, api: FakeBotApi, mode: str, stand_in: bool = False) -> AsyncIterator[Harness]:
    """``stand_in``: the TestBot's small knowledge (tests/testbot.py) instead of the real models."""
    settings = telegram_settings(settings, mode)
    runtime = build_runtime(settings) if stand_in else Runtime.build(settings, channels={})
    channel = TelegramChannel(settings, runtime.services, request=FakeRequest(api),
                              get_updates_request=FakeRequest(api))
    runtime.channels["telegram"] = channel  # the same dict the inbox worker and outbox sender read
    room = staff_room(channel)
    if room is not None:
        runtime.channels[room.name] = room
    app = create_app(runtime, start_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test") as client:
        yield Harness(api, runtime, channel, app, client)
    await channel.stop()
    runtime.services.db.dispose()


@pytest.fixture
async def tg(settings: Settings, api: FakeBotApi) -> AsyncIterator[Harness]:
    """Webhook mode, on SQLite and on PostgreSQL."""
    async for harness in _harness(settings, api, "webhook"):
        yield harness


@pytest.fixture
async def tg_polling(settings: Settings, api: FakeBotApi) -> AsyncIterator[Harness]:
    """Polling mode, on SQLite and on PostgreSQL."""
    async for harness in _harness(settings, api, "polling"):
        yield harness


@pytest.fixture
async def tg_staff(settings: Settings, api: FakeBotApi) -> AsyncIterator[Harness]:
    """Webhook mode with the staff group (BOT_TELEGRAM_STAFF_CHAT_ID), staff always at work and the
    stand-in knowledge; on SQLite and on PostgreSQL."""
    staffed = settings.model_copy(update={"telegram_staff_chat_id": STAFF_CHAT_ID, "handoff_hours": "always"})
    async for harness in _harness(staffed, api, "webhook", stand_in=True):
        yield harness
