"""Rate limits behind a load balancer: the client's address comes from X-Forwarded-For only when a
trusted proxy sent it, and the web chat's and the login's budgets are shared by every worker
(in the database, or in Redis when BOT_REDIS_URL is set)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli import proxy_options
from bot.web.app import create_app
from bot.web.limits import RedisRateLimiter
from storage.models import AuditEntry
from tests.console_helpers import csrf_of
from tests.testbot import build_runtime

REDIS_URL = "redis://127.0.0.1:6379/15"


@contextmanager
def served(settings) -> Iterator[tuple[str, object]]:
    """The app on a real uvicorn server with the proxy options ``serve`` gives it."""
    runtime = build_runtime(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, start_workers=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            **proxy_options(settings),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        thread.join(10)
        runtime.services.db.dispose()


def _failed_login_address(base: str, runtime, forwarded_for: str) -> str | None:
    with httpx.Client(base_url=base) as client:
        page = client.get("/console/login")
        client.post(
            "/console/login",
            data={"username": "nobody", "password": "x", "csrf_token": csrf_of(page.text)},
            headers={"X-Forwarded-For": forwarded_for},
        )
    with runtime.services.db.session() as s:
        return s.scalars(select(AuditEntry.address).order_by(AuditEntry.id.desc())).first()


@pytest.mark.parametrize(("trusted", "seen"), [("127.0.0.1", "203.0.113.9"), ("10.9.9.9", "127.0.0.1")])
def test_forwarded_for_is_honoured_only_from_a_trusted_proxy(sqlite_settings, trusted, seen):
    with served(sqlite_settings.model_copy(update={"forwarded_allow_ips": trusted})) as (base, runtime):
        assert _failed_login_address(base, runtime, "203.0.113.9") == seen


def test_behind_a_trusted_proxy_each_customer_has_their_own_budget(sqlite_settings):
    settings = sqlite_settings.model_copy(update={"rate_limit_per_minute": 1})  # 5 a minute per address
    with served(settings) as (base, _), httpx.Client(base_url=base) as client:

        def burst(address: str) -> list[int]:
            return [
                client.post(
                    "/api/chat",
                    json={"session_id": secrets.token_hex(16), "text": "你好"},
                    headers={"X-Forwarded-For": address},
                ).status_code
                for _ in range(6)
            ]

        assert burst("198.51.100.1") == [200] * 5 + [429]
        assert burst("198.51.100.2") == [200] * 5 + [429]  # not the proxy's shared budget


@contextmanager
def two_workers(settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps, each with its own runtime, on one database: two workers (or machines)."""
    runtimes = [build_runtime(settings), build_runtime(settings)]
    with (
        TestClient(create_app(runtimes[0], start_workers=False)) as a,
        TestClient(create_app(runtimes[1], start_workers=False)) as b,
    ):
        yield a, b
    for runtime in runtimes:
        runtime.services.db.dispose()


def _chat_budget(a: TestClient, b: TestClient) -> list[int]:
    session_id = secrets.token_hex(16)
    return [
        (a if n % 2 else b).post("/api/chat", json={"session_id": session_id, "text": "你好"}).status_code
        for n in range(5)
    ]


def test_two_workers_on_one_database_share_the_chat_budget(settings):
    with two_workers(settings.model_copy(update={"rate_limit_per_minute": 3})) as (a, b):
        assert _chat_budget(a, b) == [200, 200, 200, 429, 429]


def test_two_workers_on_one_database_share_the_login_budget(settings):
    with two_workers(settings.model_copy(update={"console_login_per_minute": 3})) as (a, b):
        answers = []
        for n in range(5):
            client = a if n % 2 else b
            page = client.get("/console/login")
            answers.append(
                client.post(
                    "/console/login", data={"username": f"u{n}", "password": "x", "csrf_token": csrf_of(page.text)}
                )
            )
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 429]
    assert "登录尝试过多" in answers[-1].text


@pytest.fixture
def redis_settings(sqlite_settings):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("sdb:rate:*"):
        client.delete(key)
    yield sqlite_settings.model_copy(update={"redis_url": REDIS_URL, "rate_limit_per_minute": 3})
    for key in client.scan_iter("sdb:rate:*"):
        client.delete(key)


def test_two_workers_share_the_budget_in_redis(redis_settings, tmp_path):
    other = redis_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'other.sqlite3'}", "data_dir": tmp_path / "other"}
    )
    a_runtime, b_runtime = build_runtime(redis_settings), build_runtime(other)  # no database in common
    with (
        TestClient(create_app(a_runtime, start_workers=False)) as a,
        TestClient(create_app(b_runtime, start_workers=False)) as b,
    ):
        assert isinstance(a.app.state.rate_limiter, RedisRateLimiter)
        assert _chat_budget(a, b) == [200, 200, 200, 429, 429]


def test_the_hourly_purge_deletes_counters_past_every_window_but_not_a_live_lock(settings):
    from datetime import timedelta

    from bot.jobs import COUNTER_MEMORY
    from storage import counters
    from storage.models import LimitCounter, utcnow

    runtime = build_runtime(settings)
    now = utcnow()
    with runtime.services.db.session() as s:
        counters.count_hit(s, "rate:old", timedelta(minutes=1), now - COUNTER_MEMORY - timedelta(minutes=1))
        counters.count_hit(s, "code:ref:locked", timedelta(hours=1), now - COUNTER_MEMORY - timedelta(minutes=1))
        counters.lock(s, "code:ref:locked", now + timedelta(minutes=5))
        counters.count_hit(s, "rate:fresh", timedelta(minutes=1), now)
    with runtime.services.db.session() as s:
        assert counters.purge(s, now, COUNTER_MEMORY) == 1
        assert set(s.scalars(select(LimitCounter.key))) == {"code:ref:locked", "rate:fresh"}
    runtime.services.db.dispose()


def test_redis_out_of_reach_lets_requests_through_with_a_warning(caplog):
    limiter = RedisRateLimiter(1, "redis://127.0.0.1:1/0")
    assert limiter.allow("x") and limiter.allow("x")
    assert "Redis is out of reach" in caplog.text
