"""Outgoing webhooks, the rules: which event types there are, who subscribes to which, and one
delivery row per event and interested subscription, written in the transaction of the change.

The listener (handlers/notices/webhooks.py) hands over an event's type, subject and ``data``;
the sender (bot/webhooks.py) signs and posts what is recorded here.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.applications import events as application_events
from domain.complaints import events as complaint_events
from domain.customers import CustomerErased
from domain.handoff import events as handoff_events
from domain.questions import QuestionUnanswered
from domain.ratings import RatingGiven
from storage.models import WebhookDelivery, WebhookSubscription, utcnow

#: The event classes sent out, by the stable ``name`` receivers rely on.
EVENTS = (
    application_events.ApplicationSubmitted, application_events.ApplicationStageChanged,
    application_events.ApplicationCorrectionRequested, application_events.ApplicationExtended,
    application_events.ApplicationCompleted,
    complaint_events.ComplaintFiled, complaint_events.ComplaintStageChanged, complaint_events.ComplaintResolved,
    complaint_events.ComplaintFollowUpAnswered,
    handoff_events.HandoffOpened, handoff_events.HandoffTaken, handoff_events.HandoffClosed,
    RatingGiven, QuestionUnanswered, CustomerErased,
)
EVENT_TYPES: tuple[str, ...] = tuple(event.name for event in EVENTS)
MIN_SECRET = 16


class WebhookError(ValueError):
    """A subscription that cannot work (bad URL, short secret, unknown event type) or is unknown."""


def _event_types(raw: list[str] | None) -> list[str]:
    wanted = [name.strip() for name in raw or [] if name.strip()]
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown:
        raise WebhookError(f"unknown event type {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(wanted))


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[": an IPv6 bracket never closed
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def add_subscription(session: Session, url: str, secret: str, events: list[str] | None = None) -> WebhookSubscription:
    """Subscribe ``url`` to ``events`` (none given: every type); the secret signs each request."""
    if not _is_http_url(url.strip()):
        raise WebhookError(f"not an http(s) URL: {url!r}")
    if len(secret) < MIN_SECRET:
        raise WebhookError(f"the secret needs at least {MIN_SECRET} characters")
    subscription = WebhookSubscription(url=url.strip(), secret=secret, events=_event_types(events))
    session.add(subscription)
    session.flush()
    return subscription


def subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def remove_subscription(session: Session, subscription_id: int) -> None:
    """Delete a subscription and its deliveries still queued or failed."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise WebhookError(f"no webhook subscription {subscription_id}")
    session.query(WebhookDelivery).filter(WebhookDelivery.subscription_id == subscription_id).delete()
    session.delete(subscription)


def plain(value: Any) -> Any:
    """``value`` as JSON values only (times as ISO 8601), the way it is stored and sent."""
    def encode(item: Any) -> Any:
        if isinstance(item, (datetime, date)):
            return item.isoformat()
        raise TypeError(f"not JSON: {type(item).__name__}")
    return json.loads(json.dumps(value, default=encode, ensure_ascii=False))


def record(session: Session, event_type: str, subject: str,
           data: Callable[[], dict[str, Any]]) -> list[WebhookDelivery]:
    """Queue ``{"id", "type", "time", "data"}`` for every active subscription that wants the type
    (``data`` is only built when someone does)."""
    interested = [s for s in session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True)))
                  if not s.events or event_type in s.events]
    if not interested:
        return []
    now = utcnow()
    body = {"id": uuid.uuid4().hex, "type": event_type, "time": now.isoformat(), "data": plain(data())}
    rows = [WebhookDelivery(subscription_id=s.id, event_id=body["id"], event_type=event_type, subject=subject,
                            body=body, next_attempt_at=now, created_at=now) for s in interested]
    session.add_all(rows)
    return rows


def deliveries(session: Session, status: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
    """The newest deliveries first, optionally of one status (``failed``: what admins must look at)."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query))


def replay(session: Session, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (a failed one, or a sent one the receiver lost), with fresh tries."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise WebhookError(f"no webhook delivery {delivery_id}")
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    delivery.last_error = None
    return delivery


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"id": delivery.id, "subscription_id": delivery.subscription_id, "event_id": delivery.event_id,
            "type": delivery.event_type, "subject": delivery.subject, "status": delivery.status,
            "attempts": delivery.attempts, "next_attempt_at": delivery.next_attempt_at.isoformat(),
            "last_error": delivery.last_error, "response_status": delivery.response_status,
            "created_at": delivery.created_at.isoformat(),
            "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None}


def subscription_json(subscription: WebhookSubscription) -> dict[str, Any]:
    """A subscription without its secret (shown once, when it is given)."""
    return {"id": subscription.id, "url": subscription.url, "events": subscription.events or ["*"],
            "active": subscription.active, "created_at": subscription.created_at.isoformat()}
