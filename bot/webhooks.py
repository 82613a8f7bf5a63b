"""The webhook sender: posts the recorded deliveries (domain/webhooks.py) to their receivers.

At least once, in order per subscription and subject: a delivery is leased before it is sent
(a crash sends it again after the lease), the next one of the same case waits until the earlier
one is sent or has failed for good, and a non-2xx answer or a network error is retried with
backoff until ``max_attempts``; then it is marked failed for an admin to replay. Each request is
signed: ``X-Desk-Signature: t=UNIX_SECONDS,v1=HEX``, HEX = HMAC-SHA256(secret, "{t}.{raw body}").
On PostgreSQL several workers share the queue through ``FOR UPDATE SKIP LOCKED``.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from bot.outbox import backoff
from bot.workers import PollingWorker
from storage.db import Database
from storage.models import WebhookDelivery, WebhookSubscription, utcnow
from storage.repositories import lock_for_update

log = logging.getLogger(__name__)

#: How long a claimed delivery is ours; after it, another pass sends it again (at least once).
LEASE = timedelta(minutes=2)
SIGNATURE_HEADER = "X-Desk-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode(body: dict[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Claimed:
    """A leased delivery with what sending it needs, read in the claiming transaction."""

    id: int
    attempts: int
    url: str
    secret: str
    body: bytes
    event_type: str
    event_id: str


def claim(db: Database, limit: int) -> list[Claimed]:
    """Lease due pending deliveries whose subject has no earlier pending delivery to the same
    subscription, so each case's events arrive in order; rows another worker holds are skipped."""
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    row = WebhookDelivery
    with db.session() as session:
        query = (
            select(row).where(
                row.status == "pending", row.next_attempt_at <= now,
                ~exists().where(and_(earlier.subscription_id == row.subscription_id, earlier.subject == row.subject,
                                     earlier.status == "pending", earlier.id < row.id)))
            .order_by(row.id).limit(limit)
        )
        rows = list(session.scalars(lock_for_update(session, query, skip_locked=True, of=row)))
        subscriptions = {s.id: s for s in session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.id.in_({r.subscription_id for r in rows})))}
        claimed = []
        for delivery in rows:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
            target = subscriptions[delivery.subscription_id]
            claimed.append(Claimed(delivery.id, delivery.attempts, target.url, target.secret, encode(delivery.body),
                                   delivery.event_type, delivery.event_id))
        return claimed


class WebhookSender(PollingWorker):
    """Background worker posting pending webhook deliveries."""

    name = "webhook-sender"

    def __init__(self, db: Database, max_attempts: int, timeout_seconds: float, poll_seconds: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.max_attempts = max_attempts
        self.timeout_seconds = timeout_seconds
        self.transport = transport

    async def step(self) -> int:
        return await self.drain_once()

    async def drain_once(self) -> int:
        """One pass: send what is due now, one request at a time (so a case stays in order)."""
        claimed = await asyncio.to_thread(claim, self.db, 20)
        if claimed:
            async with httpx.AsyncClient(timeout=self.timeout_seconds, transport=self.transport) as client:
                for delivery in claimed:
                    values = await self._post(client, delivery)
                    await asyncio.to_thread(self._update, delivery.id, values)
        return len(claimed)

    async def _post(self, client: httpx.AsyncClient, delivery: Claimed) -> dict[str, object]:
        headers = {"Content-Type": "application/json", "X-Desk-Event": delivery.event_type,
                   "X-Desk-Event-Id": delivery.event_id,
                   SIGNATURE_HEADER: sign(delivery.secret, delivery.body, int(time.time()))}
        try:
            response = await client.post(delivery.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return self._retry(delivery, f"{type(exc).__name__}: {exc}", None)
        if 200 <= response.status_code < 300:
            return {"status": "sent", "sent_at": utcnow(), "last_error": None, "response_status": response.status_code}
        return self._retry(delivery, f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)

    def _retry(self, delivery: Claimed, error: str, status: int | None) -> dict[str, object]:
        if delivery.attempts >= self.max_attempts:
            log.error("webhook delivery %s failed for good after %s tries: %s", delivery.id, delivery.attempts, error)
            return {"status": "failed", "last_error": f"gave up after {delivery.attempts} tries: {error}",
                    "response_status": status}
        wait = backoff(delivery.attempts)
        log.warning("webhook delivery %s: retry in %.0fs: %s", delivery.id, wait, error)
        return {"next_attempt_at": utcnow() + timedelta(seconds=wait), "last_error": error, "response_status": status}

    def _update(self, delivery_id: int, values: dict[str, object]) -> None:
        with self.db.session() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
