"""Several workers: ``serve --workers N`` (on SQLite too), and a reply queued on one worker sent by
another at once through PostgreSQL LISTEN/NOTIFY, not at its next poll."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.app import Runtime
from bot.config import Settings, load_settings
from handlers.messages import Incoming
from storage.db import OUTBOX_CHANNEL, Database
from tests.integration.test_outbox import FakeChannel
from tests.testbot import build_runtime

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings_for(tmp_path):  # type: ignore[no-untyped-def]
    def make(url: str) -> Settings:
        return load_settings(data_dir=tmp_path / "data", database_url=url, _env_file=None)
    return make


@pytest.mark.postgres
def test_a_reply_queued_on_one_worker_wakes_the_sender_of_another(postgres_url, settings_for):
    settings = settings_for(postgres_url).model_copy(update={"outbox_poll_seconds": 60.0})
    queuing = build_runtime(settings)
    channel = FakeChannel()
    sending = Runtime.build(settings, channels={"fake": channel}, knowledge=queuing.services.knowledge)
    assert sending.listener is not None and build_runtime(settings_for("sqlite:///:memory:")).listener is None

    async def run() -> float:
        await sending.start()
        try:
            await asyncio.sleep(0.5)  # listening
            started = time.monotonic()
            await asyncio.to_thread(queuing.engine.handle,
                                    Incoming(channel="fake", chat_id="wake-1", user_id="wake-1", text="/start"))
            while not any(chat == "wake-1" for chat, _ in channel.sent) and time.monotonic() - started < 10:
                await asyncio.sleep(0.005)
            return time.monotonic() - started
        finally:
            await sending.stop()

    took = asyncio.run(run())
    assert any(chat == "wake-1" for chat, _ in channel.sent), "the other worker never sent the reply"
    assert took < 5, f"woken after {took:.2f} s: that is the poll, not the notification"  # poll: 60 s
    queuing.services.db.dispose()


@pytest.mark.postgres
def test_notify_is_sent_at_commit_only(postgres_url):
    db = Database(postgres_url)
    woken: list[float] = []
    listener = db.listener(OUTBOX_CHANNEL, lambda: woken.append(time.monotonic()))
    assert listener is not None
    listener.start()
    try:
        deadline = time.monotonic() + 5
        while not woken and time.monotonic() < deadline:  # the wake on connecting
            time.sleep(0.01)
        woken.clear()
        with db.sessions() as session:
            session.execute(text("SELECT pg_notify(:c, '')"), {"c": OUTBOX_CHANNEL})
            session.rollback()
        time.sleep(0.5)
        assert woken == []
        with db.session() as session:
            session.execute(text("SELECT pg_notify(:c, '')"), {"c": OUTBOX_CHANNEL})
        deadline = time.monotonic() + 5
        while not woken and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(woken) == 1
    finally:
        listener.stop()
        db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The worker processes of a server (not multiprocessing's resource tracker)."""
    pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


@pytest.mark.slow
def test_serve_starts_n_workers_on_sqlite(tmp_path):
    port = free_port()
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO),
           "BOT_RATE_LIMIT_PER_MINUTE": "1000"}
    env.pop("BOT_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--workers", "2", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200 and len(children(server.pid)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read().decode()[-3000:] if server.stderr else ""
            time.sleep(0.5)
        assert len(children(server.pid)) == 2
        for n in range(6):  # several connections: the kernel spreads them over both workers
            with httpx.Client(base_url=base) as client:
                answer = client.post("/api/chat", json={"session_id": f"visitor-{n:04d}-6b1f8d3a9c5e7024aa5", "text": "hello"})
                assert answer.status_code == 200 and answer.json()["replies"]
        metrics = httpx.get(f"{base}/metrics").text
        assert 'bot_turns_total{channel="web"} 6.0' in metrics  # summed over the workers' files
        assert (tmp_path / "data" / "prometheus").is_dir()
    finally:
        server.terminate()
        server.wait(timeout=60)
