"""What operators run it by: /readyz, /metrics, JSON logs and the graceful shutdown."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.logs import JsonFormatter
from bot.outbox import OutboxSender
from bot.web.app import create_app
from handlers.messages import Incoming, Reply
from storage.db import Database
from storage.models import Conversation, HandoffSession, OutboxItem, utcnow
from storage.outbox import enqueue
from tests.integration.test_outbox import FakeChannel
from tests.testbot import StandInKnowledge, build_runtime

REPO = Path(__file__).resolve().parents[2]


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics`` by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


# -- /readyz ---------------------------------------------------------------------------------------

def test_ready_once_started_and_not_before(settings):
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"migrations": "ok", "knowledge": "ok", "workers": "ok"}}
    with TestClient(create_app(build_runtime(settings), start_workers=False)) as client:
        idle = client.get("/readyz")
        assert idle.status_code == 503
        assert idle.json()["checks"]["workers"] == "not running: outbox-sender, inbox-worker, job-runner, webhook-sender"


def test_not_ready_without_knowledge_or_migrations(sqlite_settings, tmp_path):
    runtime = build_runtime(sqlite_settings, knowledge=StandInKnowledge(entries=[]))
    runtime.services.db = Database(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    with TestClient(create_app(runtime, start_workers=False)) as client:
        checks = client.get("/readyz").json()["checks"]
    assert checks["knowledge"] == "not loaded"
    assert checks["migrations"].startswith("not applied: ") and "0004_handoff" in checks["migrations"]


def test_missing_migrations_are_the_heads_not_yet_applied(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert "0004_handoff" in db.missing_migrations()
    db.upgrade()
    assert db.missing_migrations() == set()


# -- /metrics --------------------------------------------------------------------------------------

def test_metrics_count_requests_turns_decisions_queues(settings):
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        before = samples(client)
        for text in ("Is there English-speaking staff at the service hall?", "推荐一部好看的电影"):
            assert client.post("/api/chat", json={"session_id": "visitor-metrics-7c1e9a5b3d8f2046", "text": text}).status_code == 200
        with runtime.services.db.session() as s:
            conversation = s.scalars(select(Conversation)).one()
            s.add(HandoffSession(conversation_id=conversation.id, customer_id=conversation.customer_id,
                                 reason="request", clock_start=utcnow() - timedelta(seconds=30)))
            enqueue(s, conversation, [Reply("queued for a pushing channel")])
            s.get(OutboxItem, 1).status = "failed"
        after = samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("bot_turns_total", channel="web") == 2
    assert grew("bot_turn_seconds_count", channel="web") == 2
    assert grew("bot_http_requests_total", method="POST", route="/api/chat", status="200") == 2
    assert grew("bot_http_request_seconds_count", route="/api/chat") == 2
    decisions = {d: after[("bot_knowledge_decisions", (("decision", d),))] for d in ("answer", "did_you_mean", "decline")}
    assert decisions == {"answer": 1, "did_you_mean": 0, "decline": 1}
    assert after[("bot_handoff_queue_length", ())] == 1 and after[("bot_handoff_wait_seconds", ())] >= 30
    assert after[("bot_outbox_failed", ())] == 1
    assert after[("bot_outbox_backlog", ())] >= 1
    assert after[("bot_inbox_lag_seconds", ())] == 0 and after[("bot_jobs_failed", ())] == 0


MULTIPROCESS_TURNS = """
import sys
from bot.metrics import TURNS
TURNS.labels(sys.argv[1]).inc(int(sys.argv[2]))
"""

MULTIPROCESS_SCRAPE = """
import sys
from bot.metrics import exposition
from storage.db import Database
db = Database(sys.argv[1])
db.upgrade()
print(exposition(db)[0].decode())
"""


def test_metrics_add_up_across_worker_processes(tmp_path):
    """``serve --workers N`` forks: each worker's counts are in the multiprocess directory."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"), "PYTHONPATH": str(REPO)}
    (tmp_path / "prometheus").mkdir()
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_TURNS, "telegram", count], env=env, check=True)
    scraped = subprocess.run([sys.executable, "-c", MULTIPROCESS_SCRAPE, f"sqlite:///{tmp_path / 'db.sqlite3'}"],
                             env=env, check=True, capture_output=True, text=True).stdout
    values = {(s.name, tuple(s.labels.items())): s.value
              for family in text_string_to_metric_families(scraped) for s in family.samples}
    assert values[("bot_turns_total", (("channel", "telegram"),))] == 5
    assert ("bot_outbox_backlog", ()) in values


# -- JSON logs -------------------------------------------------------------------------------------

@pytest.fixture
def json_log() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level, root.level = root.level, logging.INFO
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_json_log_lines_carry_request_and_conversation_id(sqlite_settings, json_log, monkeypatch):
    runtime = build_runtime(sqlite_settings)
    monkeypatch.setattr(runtime.engine, "route", lambda ctx: (_ for _ in ()).throw(RuntimeError("boom")))
    with TestClient(create_app(runtime, start_workers=False)) as client:
        answer = client.post("/api/chat", json={"session_id": "visitor-logs-4f2a8c6e1b9d3057a1c8", "text": "hello"},
                             headers={"X-Request-ID": "req-42"})
    assert answer.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failed = [line for line in lines if "handler failed" in line["message"]]
    assert len(failed) == 1
    assert failed[0]["request_id"] == "req-42" and failed[0]["level"] == "ERROR"
    with runtime.services.db.session() as s:
        assert failed[0]["conversation_id"] == s.scalars(select(Conversation.id)).one()
    assert "RuntimeError: boom" in failed[0]["error"]


def test_setting_log_format_json_makes_every_line_json(tmp_path):
    code = "import logging; from bot.logs import setup_logging; setup_logging('INFO', 'json'); " \
           "logging.getLogger('x').info('plain %s', 'words')"
    err = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         check=True, capture_output=True, text=True).stderr
    line = json.loads(err.strip())
    assert line["message"] == "plain words" and line["logger"] == "x" and "request_id" not in line


# -- graceful shutdown -----------------------------------------------------------------------------

class SlowChannel(FakeChannel):
    """Holds its first send until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, chat_id, reply, sent=None):  # type: ignore[no-untyped-def]
        if not self.sending.is_set():
            self.sending.set()
            await self.release.wait()
        return await super().send(chat_id, reply, sent)


def test_shutdown_finishes_the_send_in_flight_and_hands_back_the_rest_at_once(runtime):
    for chat in ("c1", "c2", "c3"):
        runtime.engine.handle(Incoming(channel="fake", chat_id=chat, user_id=chat, text="/start"))
    channel = SlowChannel()
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=3, poll_seconds=60)

    async def run() -> None:
        await sender.start()
        await asyncio.wait_for(channel.sending.wait(), 10)
        stopping = asyncio.create_task(sender.stop(grace_seconds=10))
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waits for the send in flight
        channel.release.set()
        await asyncio.wait_for(stopping, 10)

    asyncio.run(run())
    assert len(channel.sent) == 1
    with runtime.services.db.session() as s:
        rows = list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))
    assert [r.status for r in rows] == ["sent", "pending", "pending"]
    assert all(r.attempts == 0 and r.next_attempt_at <= utcnow() for r in rows[1:])


def test_shutdown_past_the_grace_cancels(runtime):
    runtime.engine.handle(Incoming(channel="fake", chat_id="c1", user_id="c1", text="/start"))
    channel = SlowChannel()
    sender = OutboxSender(runtime.services.db, {"fake": channel}, max_attempts=3, poll_seconds=60)

    async def run() -> None:
        await sender.start()
        await asyncio.wait_for(channel.sending.wait(), 10)
        await asyncio.wait_for(sender.stop(grace_seconds=0.1), 10)

    asyncio.run(run())
    assert channel.sent == [] and not sender.alive
