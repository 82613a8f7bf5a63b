"""The channel toolkit: splitting at a platform's limit, resuming a split reply through the
outbox row, numbered buttons, long payloads, and the purge of expired key-value rows."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.app import job_functions
from bot.channels import kv
from bot.channels.base import Channel, TemporarySendError
from bot.channels.registry import build_channels, kinds
from bot.channels.toolkit import (
    NumberedButtons,
    PayloadStore,
    SentParts,
    numbered_lines,
    split_text,
    utf8_bytes,
    utf16_units,
)
from bot.jobs import KV_PURGE_JOB, schedule_kv_purge
from bot.outbox import OutboxSender
from handlers.messages import Button, Incoming, Reply
from storage.models import Conversation, Job, KeyValue, OutboxItem, utcnow
from storage.outbox import PARTS_SENT, enqueue
from storage.repositories import KeyValueStore


def test_split_counts_what_the_platform_counts():
    emoji = "😀" * 3000  # 2 UTF-16 units and 4 UTF-8 bytes each
    parts = split_text(emoji, 4096, utf16_units)
    assert [len(p) for p in parts] == [2048, 952] and "".join(parts) == emoji
    chinese = "办" * 1000  # 3 bytes each
    parts = split_text(chinese, 2048, utf8_bytes)
    assert [utf8_bytes(p) for p in parts] == [2046, 954] and "".join(parts) == chinese
    assert split_text("a b", 1) == ["a", "b"] and split_text("short", 10) == ["short"]
    assert split_text("one\n\ntwo\nthree", 9) == ["one", "two\nthree"]  # paragraphs first, then lines
    assert split_text("  \n ", 10) == []


def test_numbered_fallback_maps_a_typed_number_back_to_the_payload(runtime):
    buttons = [Button("Ask", "menu:ask"), Button("Apply", "application:start")]
    assert numbered_lines(buttons) == ["1. Ask", "2. Apply"]
    numbers = NumberedButtons(runtime.services.db, "line")
    numbers.remember("chat1", buttons)
    other_worker = NumberedButtons(runtime.services.db, "line")
    assert other_worker.payload_of("chat1", " 2 ") == "application:start"
    assert other_worker.payload_of("chat1", "3") is None and other_worker.payload_of("chat1", "two") is None
    assert other_worker.payload_of("chat2", "1") is None  # per chat
    numbers.remember("chat1", [])  # a message without buttons: numbers mean nothing any more
    assert other_worker.payload_of("chat1", "2") is None


def test_a_long_payload_is_stored_and_resolved(runtime):
    store = PayloadStore(runtime.services.db, "line", 64)
    long_payload = "application:doc:" + "材料" * 40
    data = store.data_for(long_payload)
    assert data.startswith("#") and len(data.encode()) <= 64
    assert PayloadStore(runtime.services.db, "line", 64).payload_of(data) == long_payload
    assert store.data_for("menu:main") == "menu:main" and store.payload_of("menu:main") == "menu:main"
    assert store.payload_of("#" + "0" * 40) == "#" + "0" * 40  # unknown: handed on as a stale button


class SplittingChannel(Channel):
    """Sends a reply's words one message each; fails once after ``fail_after`` parts."""

    name = "split"

    def __init__(self, fail_after: int | None = None) -> None:
        self.delivered: list[str] = []
        self.fail_after = fail_after

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        sent = sent or SentParts()
        parts = reply.text.split()
        for index in sent.remaining(len(parts)):
            if self.fail_after is not None and len(self.delivered) == self.fail_after:
                self.fail_after = None
                raise TemporarySendError("connection reset")
            self.delivered.append(parts[index])
            await asyncio.to_thread(sent.mark, index + 1)
        return None


def test_resume_after_a_failure_mid_split_never_repeats_a_sent_part(runtime):
    runtime.engine.handle(Incoming(channel="split", chat_id="c1", user_id="c1", text="/start"))
    with runtime.services.db.session() as s:
        s.execute(OutboxItem.__table__.delete())  # the /start menu: not this test's business
        enqueue(s, s.scalars(select(Conversation)).one(), [Reply("A B C D")])
    channel = SplittingChannel(fail_after=2)
    sender = OutboxSender(runtime.services.db, {"split": channel}, max_attempts=5, poll_seconds=0.1)
    asyncio.run(sender.drain_once())
    assert channel.delivered == ["A", "B"]
    with runtime.services.db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert item.status == "pending" and item.payload[PARTS_SENT] == 2
        item.next_attempt_at = utcnow()
    another_worker = OutboxSender(runtime.services.db, {"split": channel}, max_attempts=5, poll_seconds=0.1)
    asyncio.run(another_worker.drain_once())
    assert channel.delivered == ["A", "B", "C", "D"]
    with runtime.services.db.session() as s:
        assert s.scalars(select(OutboxItem.status)).one() == "sent"


def test_expired_kv_rows_are_purged_by_the_hourly_job(runtime):
    db = runtime.services.db
    kv.put(db, "old", {"v": 1}, ttl=timedelta(seconds=-1))
    kv.put(db, "fresh", {"v": 2}, ttl=timedelta(hours=1))
    kv.put(db, "forever", {"v": 3})
    assert kv.get(db, "old") is None  # reads as absent before the purge too
    schedule_kv_purge(db)
    schedule_kv_purge(db)  # a second worker starting: still one job
    assert KV_PURGE_JOB in job_functions()
    assert runtime.jobs.run_due() == 1
    with db.session() as session:
        assert sorted(session.scalars(select(KeyValue.key))) == ["forever", "fresh"]
        job = session.scalars(select(Job).where(Job.kind == KV_PURGE_JOB)).one()
        assert job.status == "pending" and job.run_at > utcnow() + timedelta(minutes=50)  # again in an hour
        assert KeyValueStore(session).purge_expired() == 0


def test_every_channel_kind_comes_from_the_registry(runtime):
    assert {"telegram", "wecom", "web", "terminal"} <= set(kinds())
    settings = runtime.services.settings
    assert build_channels(settings, runtime.services) == {}  # nothing switched on by default
    assert list(build_channels(settings, runtime.services, ["terminal"])) == ["terminal"]
