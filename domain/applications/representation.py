"""The REST representation of an application (``/api/v1/applications``), in one place: the API,
the console, the CLI and the outgoing webhooks' ``data`` all show a case the same way.

ID and phone numbers are masked unless ``reveal`` (roles that review applications).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.applications.materials import items_of
from domain.applications.stages import TERMINAL, allowed_next
from domain.catalogue import Service
from domain.customers import known_name, mask
from domain.settings import DeskServices
from storage.models import (
    Application,
    ApplicationExtension,
    ApplicationItem,
    ApplicationTransition,
    Attachment,
    Customer,
    utcnow,
)


def _value(service: Service | None, material_id: str, value: str | None, reveal: bool) -> str | None:
    material = service.material(material_id) if service else None
    return value if reveal or material is None else mask(value, material.mask)


def applicant(session: Session, service: Service | None, app: Application, reveal: bool) -> dict[str, str]:
    """The ID and phone numbers given in the application (masked unless ``reveal``)."""
    if service is None:
        return {}
    out = {}
    for mid, item in items_of(session, app).items():
        material = service.material(mid)
        if material is not None and material.mask != "none" and item.value:
            out[mid] = item.value if reveal else mask(item.value, material.mask) or ""
    return out


def _customer_text(session: Session, customer: Customer) -> str:
    """The applicant's name and channel (never a platform id); the channel and row id if unnamed."""
    name = known_name(session, customer)
    return f"{name} ({customer.channel})" if name else f"{customer.channel} customer {customer.id}"


def summary(session: Session, services: DeskServices, app: Application, reveal: bool) -> dict[str, Any]:
    service = services.catalogue.get(app.service_id)
    customer = session.get(Customer, app.customer_id)
    return {
        "reference": app.reference, "service": app.service_id, "service_name": app.service_name,
        "stage": app.stage, "stage_changed_at": app.stage_changed_at, "submitted_at": app.submitted_at,
        "due_date": app.due_date,
        "overdue": app.stage not in TERMINAL and (app.overdue or (app.due_at is not None and app.due_at <= utcnow())),
        "customer": _customer_text(session, customer) if customer else "-",
        "applicant": applicant(session, service, app, reveal),
    }


def _item(session: Session, service: Service | None, app: Application, item: ApplicationItem,
          reveal: bool) -> dict[str, Any]:
    material = service.material(item.material_id) if service else None
    out: dict[str, Any] = {"id": item.id, "material": item.material_id, "status": item.status, "kind": item.kind,
                           "name": material.label("zh") if material else item.material_id}
    if item.kind == "text":
        out["value"] = _value(service, item.material_id, item.value, reveal)
    else:
        attachment = session.get(Attachment, item.attachment_id)
        if attachment is not None:
            out.update(file_name=attachment.original_name, mime=attachment.mime, size=attachment.size,
                       download=f"/api/v1/applications/{app.reference}/files/{item.id}")
    return out


def detail(session: Session, services: DeskServices, app: Application, reveal: bool) -> dict[str, Any]:
    service = services.catalogue.get(app.service_id)
    customer = session.get(Customer, app.customer_id)
    rows = list(session.scalars(select(ApplicationItem).where(
        ApplicationItem.application_id == app.id, ApplicationItem.status.in_(("current", "pending")))
        .order_by(ApplicationItem.id)))
    order = {m.id: n for n, m in enumerate(service.materials)} if service else {}
    rows.sort(key=lambda r: (order.get(r.material_id, 99), r.id))
    history = session.scalars(select(ApplicationTransition).where(ApplicationTransition.application_id == app.id)
                              .order_by(ApplicationTransition.id))
    extensions = session.scalars(select(ApplicationExtension).where(ApplicationExtension.application_id == app.id)
                                 .order_by(ApplicationExtension.id))
    return {
        **summary(session, services, app, reveal),
        "channel": customer.channel if customer else "-", "language": app.language,
        "needs_secondary_review": app.needs_secondary_review, "allowed_next": allowed_next(app),
        "correction_items": app.correction_items, "decision_reason": app.decision_reason, "remedy": app.remedy,
        "follow_up": app.follow_up,
        "items": [_item(session, service, app, r, reveal) for r in rows if r.status == "current"],
        "pending_items": [_item(session, service, app, r, reveal) for r in rows if r.status == "pending"],
        "history": [{"at": h.created_at, "from_stage": h.from_stage, "to_stage": h.to_stage, "actor": h.actor_name,
                     "actor_kind": h.actor_kind, "comment": h.comment, "details": h.details} for h in history],
        "extensions": [{"at": e.created_at, "days": e.days, "reason": e.reason, "old_due_date": e.old_due_date,
                        "new_due_date": e.new_due_date, "actor": e.actor_name} for e in extensions],
    }
