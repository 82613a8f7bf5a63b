"""Every change to a submitted application: the customer's own steps (``submit``, ``resubmit``)
and the review moves (``transition``), and extending the time limit (``extend``).

Each change is checked against the stage table, stored with who, when and why, and published
as an event (events.py) in the same transaction; the listeners tell the customer.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from domain.applications.deadlines import add_working_days, local_date, pause_clock, set_due, start_clock, stop_clock
from domain.applications.events import (
    ApplicationCompleted,
    ApplicationCorrectionRequested,
    ApplicationExtended,
    ApplicationStageChanged,
    ApplicationSubmitted,
    StageEvent,
)
from domain.applications.materials import drop_items, items_of, problems, promote_pending
from domain.applications.references import check_code_hash, new_reference
from domain.applications.stages import TERMINAL, check_move
from domain.catalogue import Service
from domain.customers import six_digit_code
from domain.settings import DeskServices
from domain.transitions import Actor, IllegalTransition, InvalidRequest
from storage.models import Application, ApplicationExtension, ApplicationTransition, Customer, utcnow

log = logging.getLogger(__name__)


def _customer(app: Application) -> Actor:
    return Actor("customer", f"customer:{app.customer_id}")


def submit(session: Session, services: DeskServices, app: Application, service: Service) -> str:
    """Turn a complete draft into a received application; returns the check code (shown once)."""
    if app.stage != "draft":
        raise IllegalTransition(f"application {app.reference or app.id} is submitted already")
    check_move(app, "received", _customer(app))
    missing = problems(session, app, service)
    if missing:
        raise InvalidRequest("still missing or wrong: " + ", ".join(m.id for m, _ in missing))
    calendar = services.catalogue.calendar
    now = utcnow()
    code = six_digit_code()
    app.reference = new_reference(session, service, local_date(now, calendar))
    app.check_code_hash = check_code_hash(app.reference, code)
    app.submitted_at = now
    _keep_email(session, app)
    row = _record(session, app, "received", _customer(app), None, {})
    start_clock(session, app, calendar, now)
    _publish(session, services, ApplicationSubmitted, app, row)
    log.info("application %s submitted (service %s)", app.reference, app.service_id)
    return code


def resubmit(session: Session, services: DeskServices, app: Application, service: Service | None) -> None:
    """The customer supplied every item named in the correction request."""
    if app.stage != "correction_requested":
        raise IllegalTransition(f"{app.reference} is not waiting for a correction")
    check_move(app, "resubmitted", _customer(app))
    named = [c["material"] for c in app.correction_items]
    if service is not None:
        wrong = problems(session, app, service, ("pending",), only=named)
        if wrong:
            raise InvalidRequest("still missing or wrong: " + ", ".join(m.id for m, _ in wrong))
    else:
        pending = items_of(session, app, ("pending",))
        if any(mid not in pending for mid in named):
            raise InvalidRequest("still missing: " + ", ".join(mid for mid in named if mid not in pending))
    promote_pending(session, app)
    _keep_email(session, app)
    row = _record(session, app, "resubmitted", _customer(app), None, {"items": named})
    app.correction_items = []
    start_clock(session, app, services.catalogue.calendar, utcnow())
    _publish(session, services, ApplicationStageChanged, app, row)


def transition(session: Session, services: DeskServices, app: Application, to: str, actor: Actor, *,
               comment: str | None = None, reason: str | None = None, remedy: str | None = None,
               follow_up: str | None = None, items: list[dict[str, str]] | None = None) -> ApplicationTransition:
    """Move the application to ``to``: refuses illegal moves, records the change and publishes it
    (the customer is told by chat unless the change is their own, made in the chat)."""
    if app.stage == "draft":
        raise IllegalTransition("the application has not been submitted yet")
    check_move(app, to, actor)
    details = _decide(session, services, app, to, reason=reason, remedy=remedy, follow_up=follow_up, items=items)
    row = _record(session, app, to, actor, comment, details)
    if to == "correction_requested":
        pause_clock(session, app)
    if to in TERMINAL:
        app.closed_at = utcnow()
        stop_clock(session, app)
        if to == "withdrawn":
            drop_items(session, app, "pending")
    if to == "correction_requested":
        _publish(session, services, ApplicationCorrectionRequested, app, row,
                 materials=tuple(e["material"] for e in app.correction_items))
    elif to == "completed":
        _publish(session, services, ApplicationCompleted, app, row, follow_up=app.follow_up)
    else:
        _publish(session, services, ApplicationStageChanged, app, row)
    log.info("application %s: %s -> %s by %s", app.reference, row.from_stage, to, actor.kind)
    return row


def _decide(session: Session, services: DeskServices, app: Application, to: str, *, reason: str | None,
            remedy: str | None, follow_up: str | None, items: list[dict[str, str]] | None) -> dict[str, Any]:
    """What the move decides (items to correct, a rejection's reason and remedy, the follow-up),
    stored on the application and returned as the transition's details."""
    details: dict[str, Any] = {}
    if to == "correction_requested":
        details["items"] = _correction_items(session, services, app, items)
        app.correction_items = details["items"]
    elif items:
        raise InvalidRequest("items are named only with a correction request")
    if to == "rejected":
        if not (reason and reason.strip()) or not (remedy and remedy.strip()):
            raise InvalidRequest("a rejection needs a reason and what the customer can do (remedy)")
        app.decision_reason, app.remedy = reason.strip(), remedy.strip()
        details.update(reason=app.decision_reason, remedy=app.remedy)
    if to == "completed":
        service = services.catalogue.get(app.service_id)
        text = (follow_up or "").strip() or (service.text("follow_up", app.language) if service else "")
        app.follow_up = text or None
        details["follow_up"] = app.follow_up
    if to == "approved" and reason:
        app.decision_reason = reason.strip()
    return details


def extend(session: Session, services: DeskServices, app: Application, days: int, reason: str,
           actor: Actor) -> ApplicationExtension:
    """Extend the time limit by working days; the customer is told the reason."""
    if app.stage == "draft" or app.stage in TERMINAL:
        raise IllegalTransition(f"{app.reference or app.id} is not open; its time limit cannot be extended")
    if app.due_date is None:
        raise IllegalTransition(f"{app.reference}: the time limit is paused while a correction is open")
    if not 1 <= days <= 60:
        raise InvalidRequest("an extension is 1 to 60 working days")
    if not reason or not reason.strip():
        raise InvalidRequest("an extension needs a reason; it is told to the customer")
    calendar = services.catalogue.calendar
    old = app.due_date
    new = add_working_days(old, days, calendar)
    row = ApplicationExtension(application_id=app.id, days=days, reason=reason.strip(), old_due_date=old,
                               new_due_date=new, actor_name=actor.name, staff_id=actor.staff_id)
    session.add(row)
    set_due(session, app, new, calendar)
    services.events.publish(session, ApplicationExtended(
        application_id=app.id, reference=app.reference or "", days=days, reason=row.reason,
        old_due_date=old, new_due_date=new))
    log.info("application %s extended by %d working days", app.reference, days)
    return row


def _correction_items(session: Session, services: DeskServices, app: Application,
                      items: list[dict[str, str]] | None) -> list[dict[str, str]]:
    if not items:
        raise InvalidRequest("a correction request must name the items to supply or correct")
    service = services.catalogue.get(app.service_id)
    known = {m.id for m in service.materials} if service else set(items_of(session, app))
    out, seen = [], set()
    for entry in items:
        mid = str(entry.get("material", "")).strip()
        if mid not in known:
            raise InvalidRequest(f"{mid!r} is not a material of this service; known: {', '.join(sorted(known))}")
        if mid in seen:
            continue
        seen.add(mid)
        out.append({"material": mid, "note": str(entry.get("note") or "").strip()})
    if service is not None:  # the customer is walked through them in the order of the checklist
        order = {m.id: n for n, m in enumerate(service.materials)}
        out.sort(key=lambda e: order.get(e["material"], len(order)))
    return out


def _keep_email(session: Session, app: Application) -> None:
    """An address given as a material becomes the customer's, for later notices by email."""
    if app.email:
        customer = session.get(Customer, app.customer_id)
        if customer is not None:
            customer.email = app.email


def _record(session: Session, app: Application, to: str, actor: Actor, comment: str | None,
            details: dict[str, Any]) -> ApplicationTransition:
    row = ApplicationTransition(application_id=app.id, from_stage=app.stage, to_stage=to, actor_kind=actor.kind,
                                actor_name=actor.name, staff_id=actor.staff_id, comment=(comment or None),
                                details=details)
    session.add(row)
    app.stage, app.stage_changed_at = to, utcnow()
    session.flush()
    return row


def _publish(session: Session, services: DeskServices, kind: type[StageEvent], app: Application,
             row: ApplicationTransition, **extra: Any) -> None:
    services.events.publish(session, kind(
        application_id=app.id, reference=app.reference or "", from_stage=row.from_stage,
        to_stage=row.to_stage, actor_kind=row.actor_kind, comment=row.comment or "", **extra))
