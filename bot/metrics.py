"""Prometheus metrics for ``GET /metrics``.

Two kinds: what a process sees (HTTP requests, turns and their latency by channel) lives in
prometheus-client's counters and histograms, which in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
set before this module is imported, as ``serve --workers N`` does) every worker writes to files that
any worker reads; what the database knows (decisions, outbox backlog and failures, inbox lag, job
failures, the handoff queue) is counted at scrape time, so every worker reports the same truth.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.logs import request_id_var
from storage.db import Database
from storage.models import HandoffSession, InboxItem, Job, KnowledgeQuestion, OutboxItem, utcnow

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("bot_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
REQUEST_SECONDS = Histogram("bot_http_request_seconds", "Time to answer an HTTP request.", ["route"],
                            buckets=LATENCY_BUCKETS)
TURNS = Counter("bot_turns_total", "Customer messages handled (one turn each).", ["channel"])
TURN_SECONDS = Histogram("bot_turn_seconds", "Time to handle one customer message, commit included.",
                         ["channel"], buckets=LATENCY_BUCKETS)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


@contextmanager
def observe_turn(channel: str, started: float | None = None) -> Iterator[None]:
    """Count a turn and time it (also when it raises: a failed turn took its time too), from
    ``started`` (a ``time.perf_counter()`` taken when its work began) or from now."""
    started = time.perf_counter() if started is None else started
    try:
        yield
    finally:
        TURNS.labels(channel).inc()
        TURN_SECONDS.labels(channel).observe(time.perf_counter() - started)


class DatabaseCollector(Collector):
    """Gauges read from the tables at scrape time: the same figures from every worker."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.db.session() as session:
            decisions = dict(session.execute(select(KnowledgeQuestion.decision, func.count())
                                             .group_by(KnowledgeQuestion.decision)).all())
            outbox = dict(session.execute(select(OutboxItem.status, func.count()).where(
                OutboxItem.status.in_(["pending", "failed"])).group_by(OutboxItem.status)).all())
            oldest_inbox = session.scalar(select(func.min(InboxItem.created_at)).where(InboxItem.status == "pending"))
            failed_jobs = session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed"))
            waiting, oldest_wait = session.execute(select(func.count(), func.min(HandoffSession.clock_start))
                                                   .where(HandoffSession.status == "waiting")).one()
        answered = GaugeMetricFamily("bot_knowledge_decisions", "Questions by the answer decision taken.",
                                     labels=["decision"])
        for decision, label in (("answer", "answer"), ("suggest", "did_you_mean"), ("decline", "decline")):
            answered.add_metric([label], decisions.get(decision, 0))
        yield answered
        yield GaugeMetricFamily("bot_outbox_backlog", "Replies waiting to be sent.", value=outbox.get("pending", 0))
        yield GaugeMetricFamily("bot_outbox_failed", "Replies that failed for good.", value=outbox.get("failed", 0))
        yield GaugeMetricFamily("bot_inbox_lag_seconds", "Age of the oldest platform delivery not yet handled.",
                                value=_age(now, oldest_inbox))
        yield GaugeMetricFamily("bot_jobs_failed", "Timed jobs that failed for good.", value=failed_jobs or 0)
        yield GaugeMetricFamily("bot_handoff_queue_length", "Conversations waiting for a person.", value=waiting)
        yield GaugeMetricFamily("bot_handoff_wait_seconds", "How long the longest-waiting customer has waited.",
                                value=_age(now, oldest_wait))


def _age(now: object, then: object) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())  # type: ignore[operator]


def exposition(db: Database) -> tuple[bytes, str]:
    """The text of ``GET /metrics``: this process's (or every worker's) metrics and the database's."""
    registry = CollectorRegistry()
    if multiprocess_dir() is not None:
        MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, REQUEST_SECONDS, TURNS, TURN_SECONDS):
            registry.register(metric)
    registry.register(DatabaseCollector(db))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def forget_process(pid: int) -> None:
    """A worker that exits leaves its live gauges behind unless told (counters are kept)."""
    if multiprocess_dir() is not None:
        mark_process_dead(pid)


class RequestMetrics:
    """ASGI middleware: counts and times each HTTP request by its route template (never the raw
    path, which carries ids), and gives the request an id for the logs (``X-Request-ID`` kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        token = request_id_var.set(request_id)
        status = {"code": 500}
        started = time.perf_counter()
        try:
            await self.app(scope, receive, _status_recorder(send, status, request_id))
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
            request_id_var.reset(token)


def _status_recorder(send: Send, status: dict[str, int], request_id: str) -> Callable[[Message], object]:
    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
        await send(message)
    return recording_send
