"""Long polling: updates recorded like the webhook's, the offset kept in the database; both databases."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.channels.telegram import ALLOWED_UPDATES, POLL_TIMEOUT
from handlers.i18n import t
from storage.models import InboxItem, Message


def inbox_keys(db) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(InboxItem.delivery_key).order_by(InboxItem.id)))


def get_updates_offsets(api) -> list[object]:
    return [params.get("offset") for method, params in api.calls if method == "getUpdates"]


async def test_polled_updates_take_the_webhooks_path(tg_polling, monkeypatch):
    woken = []
    monkeypatch.setattr(tg_polling.runtime.services, "wake_inbox", lambda: woken.append(1))
    first, second = tg_polling.api.text_update("/start"), tg_polling.api.text_update("/help", chat_id=43)
    tg_polling.api.queue(first, second)
    assert await tg_polling.channel.poll_once() == 2
    assert inbox_keys(tg_polling.db) == [str(first["update_id"]), str(second["update_id"])]
    assert woken == [1]
    assert tg_polling.api.calls[0][1]["allowed_updates"] == ALLOWED_UPDATES
    await tg_polling.settle()
    assert tg_polling.api.texts(42) == [t("menu.welcome", "zh")]
    assert tg_polling.api.texts(43) == [t("menu.help", "zh")]
    assert await tg_polling.channel.poll_once() == 0  # confirmed: Telegram does not send them again


async def test_offset_survives_a_restart(tg_polling):
    old = tg_polling.api.text_update("/start")
    tg_polling.api.queue(old)
    await tg_polling.channel.poll_once()
    await tg_polling.channel.stop()

    restarted = tg_polling.new_channel()
    new = tg_polling.api.text_update("/menu")
    tg_polling.api.queue(new)
    assert await restarted.poll_once() == 1
    assert get_updates_offsets(tg_polling.api) == [None, old["update_id"] + 1]
    assert inbox_keys(tg_polling.db) == [str(old["update_id"]), str(new["update_id"])]


async def test_crash_before_the_offset_is_saved_repeats_nothing(tg_polling, monkeypatch):
    update = tg_polling.api.text_update("/start")
    tg_polling.api.queue(update)

    def crash(_offset):
        raise RuntimeError("power cut")

    monkeypatch.setattr(tg_polling.channel.poller, "save_offset", crash)
    with pytest.raises(RuntimeError):
        await tg_polling.channel.poll_once()
    restarted = tg_polling.new_channel()
    assert await restarted.poll_once() == 1  # fetched again: the offset never moved
    await tg_polling.settle()
    with tg_polling.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 1
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert tg_polling.api.texts() == [t("menu.welcome", "zh")]


async def test_polling_loop_prepares_the_bot_then_records_updates(tg_polling):
    tg_polling.api.webhook = {"url": "https://old.example/telegram/webhook"}
    await tg_polling.channel.start()
    update = tg_polling.api.text_update("hello")
    tg_polling.api.queue(update)
    for _ in range(500):
        if inbox_keys(tg_polling.db):
            break
        await asyncio.sleep(0.01)
    await tg_polling.channel.stop()
    assert inbox_keys(tg_polling.db) == [str(update["update_id"])]
    assert tg_polling.api.webhook == {}  # a webhook left over would make getUpdates fail
    assert {c["command"] for c in tg_polling.api.commands["en"]} == {"start", "menu", "help", "lang"}
    assert tg_polling.api.commands[""] == tg_polling.api.commands["zh"]  # the default language
    assert [p.get("timeout") for m, p in tg_polling.api.calls if m == "getUpdates"][0] == POLL_TIMEOUT


async def test_no_webhook_route_in_polling_mode(tg_polling):
    response = await tg_polling.post(tg_polling.api.text_update("hi"))
    assert response.status_code in (404, 405)
    assert inbox_keys(tg_polling.db) == []
