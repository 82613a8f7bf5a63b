"""Recorded deliveries: repeats dropped, handled exactly once, retried after a failure."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.channels.base import Channel
from bot.channels.toolkit import SentParts
from bot.inbox import InboxWorker
from handlers.messages import Incoming, Reply
from storage.inbox import accept
from storage.models import InboxItem, Message


class RecordingChannel(Channel):
    name = "rec"

    def __init__(self, fail_times: int = 0) -> None:
        self.fail_times = fail_times

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        return None

    async def parse(self, payload):
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("file download failed")
        return [Incoming("rec", payload["chat"], payload["chat"], text=payload["text"])]


def test_repeat_delivery_is_dropped_and_the_first_handled_once(runtime):
    db = runtime.services.db
    assert accept(db, "rec", "42", {"chat": "c", "text": "/start"}, "c")
    assert not accept(db, "rec", "42", {"chat": "c", "text": "/start"}, "c")
    worker = InboxWorker(db, runtime.engine, {"rec": RecordingChannel()})
    assert asyncio.run(worker.process_once()) == 1
    assert asyncio.run(worker.process_once()) == 0
    assert runtime.engine.handle_recorded(1, [Incoming("rec", "c", "c", text="again")]) is None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
        assert s.scalars(select(InboxItem)).one().status == "done"


def test_failed_parse_is_retried_and_later_deliveries_of_the_chat_wait(runtime):
    db = runtime.services.db
    accept(db, "rec", "1", {"chat": "c", "text": "first"}, "c")
    accept(db, "rec", "2", {"chat": "c", "text": "second"}, "c")
    worker = InboxWorker(db, runtime.engine, {"rec": RecordingChannel(fail_times=1)})
    asyncio.run(worker.process_once())
    with db.session() as s:
        items = list(s.scalars(select(InboxItem).order_by(InboxItem.id)))
        assert [i.status for i in items] == ["pending", "pending"]
        assert "file download failed" in items[0].last_error
        for item in items:
            item.next_attempt_at = item.created_at  # the backoff has passed
    while asyncio.run(worker.process_once()):
        pass
    with db.session() as s:
        texts = [m.text for m in s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]
    assert texts == ["first", "second"]
