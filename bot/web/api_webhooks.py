"""REST: outgoing webhook subscriptions and their deliveries (``/api/v1/webhooks``), admins only.

The secret is given when subscribing and never shown again; a failed delivery can be replayed.
"""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, Principal, record_action, require_role
from bot.web.api_schema import AUTHORIZED, PathId, errors
from domain import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=AUTHORIZED)
ADMIN = require_role("admin")
EventType = Literal[webhooks.EVENT_TYPES]  # type: ignore[valid-type]


class SubscriptionIn(BaseModel):
    url: str = Field(max_length=2000, pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+",
                     description="Where the events are POSTed (http or https)")
    secret: str = Field(min_length=webhooks.MIN_SECRET, max_length=200,
                        description="Shared secret for X-Desk-Signature (HMAC-SHA256 over \"{t}.{raw body}\")")
    events: list[EventType] = Field(default_factory=list, description="Event types wanted; empty: all")


@router.get("", summary="Subscriptions (without their secrets) and the known event types")
def list_subscriptions(_: Principal = Depends(ADMIN), session: Session = DB_SESSION) -> dict[str, Any]:
    return {"items": [webhooks.subscription_json(s) for s in webhooks.subscriptions(session)],
            "event_types": list(webhooks.EVENT_TYPES)}


@router.post("", status_code=201, summary="Subscribe a URL", responses=errors(400))
def add_subscription(body: SubscriptionIn, request: Request, _: Principal = Depends(ADMIN),
                     session: Session = DB_SESSION) -> dict[str, Any]:
    try:
        subscription = webhooks.add_subscription(session, body.url, body.secret, body.events)
    except webhooks.WebhookError as exc:
        raise HTTPException(422, str(exc)) from None
    record_action(request, session, "webhook.subscribed", f"webhook:{subscription.id}",
                  webhooks.subscription_json(subscription))
    return webhooks.subscription_json(subscription)


@router.delete("/{subscription_id}", status_code=204, summary="Remove a subscription and its undelivered events",
               responses=errors(404))
def remove_subscription(subscription_id: PathId, request: Request, _: Principal = Depends(ADMIN),
                        session: Session = DB_SESSION) -> None:
    try:
        webhooks.remove_subscription(session, subscription_id)
    except webhooks.WebhookError as exc:
        raise HTTPException(404, str(exc)) from None
    record_action(request, session, "webhook.removed", f"webhook:{subscription_id}")


@router.get("/deliveries", summary="Deliveries, newest first (status=failed: what needs a look)")
def list_deliveries(status: Literal["pending", "sent", "failed"] | None = None,
                    limit: int = Query(100, ge=1, le=1000), _: Principal = Depends(ADMIN),
                    session: Session = DB_SESSION) -> dict[str, Any]:
    return {"items": [webhooks.delivery_json(d) for d in webhooks.deliveries(session, status, limit)]}


@router.post("/deliveries/{delivery_id}/replay", summary="Send a delivery again, with fresh tries",
             responses=errors(404))
def replay(delivery_id: PathId, _: Principal = Depends(ADMIN), session: Session = DB_SESSION) -> dict[str, Any]:
    try:
        delivery = webhooks.replay(session, delivery_id)
    except webhooks.WebhookError as exc:
        raise HTTPException(404, str(exc)) from None
    session.flush()
    return webhooks.delivery_json(delivery)
