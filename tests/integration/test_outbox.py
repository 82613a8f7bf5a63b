"""The outbox sender: retries, backoff, failure with reason, order per chat, several workers."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.channels.base import Channel, DeferredSendError, PermanentSendError, TemporarySendError
from bot.channels.toolkit import SentParts
from bot.outbox import OutboxSender
from handlers.messages import Incoming, Reply
from storage.models import Conversation, OutboxItem, utcnow
from storage.outbox import enqueue


class FakeChannel(Channel):
    """Records what was sent; fails while ``failures`` holds exceptions to raise."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, reply.text))
        return f"m{len(self.sent)}"


def queue(runtime, chat: str, texts: list[str]) -> list[int]:
    runtime.engine.handle(Incoming(channel="fake", chat_id=chat, user_id=chat, text="/start"))
    with runtime.services.db.session() as s:
        conv = s.scalars(select(Conversation).where(Conversation.chat_id == chat)).one()
        # The /start menu reply is already queued; these follow it.
        return enqueue(s, conv, [Reply(t) for t in texts])


def make_due(runtime) -> None:
    """Move every backoff into the past, as if the wait had passed."""
    with runtime.services.db.session() as s:
        s.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(next_attempt_at=utcnow()))


def drain(sender: OutboxSender) -> int:
    return asyncio.run(sender.drain_once())


def test_sends_in_order_and_marks_sent(runtime):
    channel = FakeChannel()
    queue(runtime, "c1", ["one", "two", "three"])
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=3, poll_seconds=0.1)
    while drain(sender):
        pass
    assert [text for _, text in channel.sent][1:] == ["one", "two", "three"]
    with runtime.services.db.session() as s:
        rows = list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        assert all(r.status == "sent" and r.platform_message_id for r in rows)


def test_temporary_failure_backs_off_and_keeps_the_chat_in_order(runtime):
    channel = FakeChannel()
    queue(runtime, "c1", ["one", "two"])
    channel.failures = [TemporarySendError("503 from platform", retry_after=30)]
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=5, poll_seconds=0.1)
    drain(sender)
    assert channel.sent == []  # the first (menu) reply failed; nothing behind it may overtake it
    assert drain(sender) == 0
    with runtime.services.db.session() as s:
        first = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).first()
        assert first.last_error == "503 from platform"
        assert first.next_attempt_at > utcnow() + timedelta(seconds=20)  # retry_after honoured
    make_due(runtime)
    while drain(sender):
        pass
    assert [text for _, text in channel.sent][1:] == ["one", "two"]


def test_gives_up_after_max_attempts_with_reason_and_staff_can_retry(runtime):
    from storage.outbox import retry_failed

    channel = FakeChannel()
    queue(runtime, "c1", [])
    channel.failures = [TemporarySendError("timeout")] * 3
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=3, poll_seconds=0.1)
    for _ in range(3):
        drain(sender)
        make_due(runtime)
    with runtime.services.db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert item.status == "failed" and "gave up after 3 tries: timeout" in item.last_error
        assert retry_failed(s, item.id)
    drain(sender)
    assert len(channel.sent) == 1


def test_permanent_failure_does_not_block_the_next_reply(runtime):
    channel = FakeChannel()
    queue(runtime, "c1", ["after"])
    channel.failures = [PermanentSendError("bot was blocked by the user")]
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=5, poll_seconds=0.1)
    while drain(sender):
        pass
    assert [text for _, text in channel.sent] == ["after"]
    with runtime.services.db.session() as s:
        assert [r.status for r in s.scalars(select(OutboxItem).order_by(OutboxItem.id))] == ["failed", "sent"]


def test_deferred_reply_waits_for_the_customers_next_message(runtime):
    channel = FakeChannel()
    queue(runtime, "c1", [])
    channel.failures = [DeferredSendError("reply window closed")]
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=5, poll_seconds=0.1)
    drain(sender)
    assert drain(sender) == 0 and channel.sent == []
    runtime.engine.handle(Incoming(channel="fake", chat_id="c1", user_id="c1", text="/menu"))
    while drain(sender):
        pass
    assert len(channel.sent) == 2  # the deferred menu, then the reply to /menu


def test_two_senders_never_send_one_reply_twice(runtime):
    channels = [FakeChannel(), FakeChannel()]
    channels[1].sent = channels[0].sent  # one log, to check the order per chat across both workers
    for chat in ("a", "b", "c", "d"):
        queue(runtime, chat, ["x", "y"])
    senders = [OutboxSender(runtime.services.db, {"fake": ch}, max_attempts=3, poll_seconds=0.1) for ch in channels]

    async def both() -> None:
        while sum(await asyncio.gather(*(s.drain_once() for s in senders))):
            pass

    asyncio.run(both())
    sent = channels[0].sent
    assert len(sent) == 12
    for chat in ("a", "b", "c", "d"):
        assert [text for c, text in sent if c == chat][1:] == ["x", "y"]
