"""Two messages of one chat handled at once by two workers come out in order.

No sleeps order the two: the first worker holds its turn open until PostgreSQL itself shows the
second one waiting for the conversation's lock.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from handlers.base import Handler
from handlers.messages import Incoming, Reply
from storage.models import Message
from tests.testbot import build_runtime

WAIT = 30  # seconds: a deadline for a stuck test, never a pause that orders events


class Held(Handler):
    """Counts messages in the conversation's state, and holds the first message's turn open
    between read and write: without the conversation lock both workers would read the same count."""

    name = "held"
    priority = 50

    def __init__(self, hold: str, inside: threading.Event, release: threading.Event) -> None:
        self.hold, self.inside, self.release = hold, inside, release

    def on_intent(self, ctx):
        seen = ctx.conversation.state_data.get("n", 0)
        if ctx.text == self.hold:
            self.inside.set()
            assert self.release.wait(WAIT), "the second worker never queued on the lock"
        ctx.conversation.state_data = {"n": seen + 1}
        return [Reply(f"{ctx.text}-{seen + 1}")]


def wait_for_lock_waiter(url: str) -> None:
    """Until PostgreSQL shows a session of this database waiting for a lock (the second worker)."""
    probe = create_engine(url)
    deadline = time.monotonic() + WAIT
    with probe.connect() as conn:
        while conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")) == 0:
            assert time.monotonic() < deadline, "the second worker never waited for the lock"
            conn.rollback()
    probe.dispose()


@pytest.mark.postgres
def test_one_chat_is_handled_one_message_at_a_time_on_postgres(postgres_url, tmp_path):
    from bot.config import load_settings
    from tests.conftest import _truncate_all

    _truncate_all(postgres_url)
    settings = load_settings(data_dir=tmp_path, database_url=postgres_url, _env_file=None)
    workers = [build_runtime(settings) for _ in range(2)]  # two engines, two connection pools
    inside, release = threading.Event(), threading.Event()
    for worker in workers:
        worker.engine.handlers.insert(0, Held("aa", inside, release))
    workers[0].engine.handle(Incoming("web", "chat", "u", text="/start"))

    def send(worker, text):
        worker.engine.handle(Incoming("web", "chat", "u", text=text))

    threads = [threading.Thread(target=send, args=(w, t)) for w, t in zip(workers, ["aa", "bb"])]
    threads[0].start()
    assert inside.wait(WAIT)  # the first worker holds the conversation
    threads[1].start()
    wait_for_lock_waiter(postgres_url)  # the second queues behind it, in the database
    release.set()
    for th in threads:
        th.join(WAIT)
    with workers[0].services.db.session() as s:
        texts = [m.text for m in s.scalars(select(Message).order_by(Message.id))][2:]
    # The first to arrive went first, its reply before the second message, and no update was lost.
    assert texts == ["aa", "aa-1", "bb", "bb-2"]
    for worker in workers:
        worker.services.db.dispose()
