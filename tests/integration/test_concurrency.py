"""Two messages of one chat handled at once by two workers come out in order."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from bot.app import Runtime
from handlers.messages import Incoming, Reply
from handlers.base import Handler
from storage.models import Message


class Slow(Handler):
    """Counts messages in the conversation's state with a pause between read and write:
    without the conversation lock two workers would both read the same count."""

    name = "slow"
    priority = 50

    def on_intent(self, ctx):
        seen = ctx.conversation.state_data.get("n", 0)
        time.sleep(0.3)
        ctx.conversation.state_data = {"n": seen + 1}
        return [Reply(f"{ctx.text}-{seen + 1}")]


@pytest.mark.postgres
def test_one_chat_is_handled_one_message_at_a_time_on_postgres(postgres_url, tmp_path):
    from bot.config import load_settings
    from tests.conftest import _truncate_all

    _truncate_all(postgres_url)
    settings = load_settings(data_dir=tmp_path, database_url=postgres_url, _env_file=None)
    workers = [Runtime.build(settings, channels={}) for _ in range(2)]  # two engines, two connection pools
    for worker in workers:
        worker.engine.handlers.insert(0, Slow())
    workers[0].engine.handle(Incoming("web", "chat", "u", text="/start"))

    def send(worker, text):
        worker.engine.handle(Incoming("web", "chat", "u", text=text))

    threads = [threading.Thread(target=send, args=(w, t)) for w, t in zip(workers, ["aa", "bb"])]
    threads[0].start()
    time.sleep(0.05)
    threads[1].start()
    for th in threads:
        th.join()
    with workers[0].services.db.session() as s:
        texts = [m.text for m in s.scalars(select(Message).order_by(Message.id))][2:]
    # The first to arrive went first, its reply before the second message, and no update was lost.
    assert texts == ["aa", "aa-1", "bb", "bb-2"]
    for worker in workers:
        worker.services.db.dispose()
