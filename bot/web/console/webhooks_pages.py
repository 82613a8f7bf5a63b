"""The console's webhooks page (admins): subscriptions, adding and removing them, and the
deliveries that failed for good, each with a replay button."""
from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, record_action
from bot.web.api_schema import PathId
from bot.web.console.handoff_pages import done
from bot.web.console.pages import render
from bot.web.console.security import require_staff, verify_csrf
from domain import webhooks
from storage.models import StaffUser

router = APIRouter(prefix="/console")
ADMIN = require_staff("admin")
PAGE = "/console/webhooks"


def _page(request: Request, session: Session, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    context = {"subscriptions": webhooks.subscriptions(session), "failed": webhooks.deliveries(session, "failed"),
               "event_types": webhooks.EVENT_TYPES, "error": error}
    return render(request, "console/webhooks.html", context, status_code=status_code)


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> HTMLResponse:
    return _page(request, session)


@router.post("/webhooks", dependencies=[Depends(verify_csrf)])
def webhook_add(request: Request, url: str = Form(...), secret: str = Form(...), events: list[str] = Form([]),
                user: StaffUser = Depends(ADMIN), session: Session = DB_SESSION) -> Response:
    def subscribe() -> None:
        subscription = webhooks.add_subscription(session, url, secret, events)
        record_action(request, session, "webhook.subscribed", f"webhook:{subscription.id}",
                      webhooks.subscription_json(subscription))

    return _apply(request, session, subscribe, 400)


@router.post("/webhooks/{subscription_id}/remove", dependencies=[Depends(verify_csrf)])
def webhook_remove(subscription_id: PathId, request: Request, user: StaffUser = Depends(ADMIN),
                   session: Session = DB_SESSION) -> Response:
    def remove() -> None:
        webhooks.remove_subscription(session, subscription_id)
        record_action(request, session, "webhook.removed", f"webhook:{subscription_id}")

    return _apply(request, session, remove, 404)


@router.post("/webhooks/deliveries/{delivery_id}/replay", dependencies=[Depends(verify_csrf)])
def webhook_replay(delivery_id: PathId, request: Request, user: StaffUser = Depends(ADMIN),
                   session: Session = DB_SESSION) -> Response:
    return _apply(request, session, lambda: webhooks.replay(session, delivery_id), 404)


def _apply(request: Request, session: Session, change: Callable[[], object], refused_status: int) -> Response:
    """Make one change and go back to the page; a refused change shows the page with the reason."""
    try:
        change()
    except webhooks.WebhookError as exc:
        return _page(request, session, str(exc), status_code=refused_status)
    return done(PAGE)
