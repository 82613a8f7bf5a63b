"""The materials of an application: what the customer handed in, and whether it fits the service.

An item is ``current`` (in force), ``pending`` (supplied during a correction, in force once the
customer resubmits) or ``superseded``. ``problems`` lists everything missing or wrong at once,
in the service's order, so the customer is told in ONE message (一次性告知).
"""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from domain.catalogue import Material, Service
from domain.catalogue.model import FORMATS, cn_id_checksum_ok
from domain.transitions import Actor, InvalidRequest
from storage.models import Application, ApplicationItem, Attachment, FileAccess


def items_of(session: Session, app: Application, statuses: tuple[str, ...] = ("current",)) -> dict[str, ApplicationItem]:
    """material id -> its item with one of ``statuses`` (later statuses in the tuple win)."""
    found: dict[str, ApplicationItem] = {}
    rows = session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == app.id,
                                                         ApplicationItem.status.in_(statuses))
                           .order_by(ApplicationItem.id))
    rank = {s: i for i, s in enumerate(statuses)}
    for row in rows:
        old = found.get(row.material_id)
        if old is None or rank[row.status] >= rank[old.status]:
            found[row.material_id] = row
    return found


def check_file(material: Material, attachment: Attachment) -> str | None:
    """None if the file fits the material, else the reason key (``bad_type``, ``too_large``)."""
    if not material.mime_allowed(attachment.mime):
        return "bad_type"
    if material.max_mb is not None and attachment.size > material.max_mb * 1024 * 1024:
        return "too_large"
    return None


def text_problem(material: Material, value: str) -> str | None:
    """None if the typed value fits the material, else the rule it breaks, so the customer is told
    what to fix: ``empty``, ``id_length``, ``id_chars``, ``id_date``, ``id_checksum``,
    ``mobile_digits``, ``mobile_length``, ``mobile_prefix``, ``email``, ``date_format``,
    ``date_invalid`` or ``pattern`` (the service's own pattern, or a format without a finer rule)."""
    if not value.strip():
        return "empty"
    if material.pattern:
        return None if re.fullmatch(material.pattern, value) else "pattern"
    rule = _FORMAT_RULES.get(material.format or "")
    if rule is not None:
        return rule(value)
    if material.format and re.fullmatch(FORMATS[material.format], value) is None:
        return "pattern"
    return None


def _id_problem(value: str) -> str | None:
    if len(value) != 18:
        return "id_length"
    if not (value[:17].isdigit() and (value[17].isdigit() or value[17] in "Xx")):
        return "id_chars"
    if _date_or_none(value[6:10], value[10:12], value[12:14]) is None:
        return "id_date"
    return None if cn_id_checksum_ok(value) else "id_checksum"


def _mobile_problem(value: str) -> str | None:
    if not value.isdigit():
        return "mobile_digits"
    if len(value) != 11:
        return "mobile_length"
    return None if re.fullmatch(FORMATS["cn_mobile"], value) else "mobile_prefix"


def _email_problem(value: str) -> str | None:
    return None if re.fullmatch(FORMATS["email"], value) else "email"


def _date_problem(value: str) -> str | None:
    if re.fullmatch(FORMATS["date"], value) is None:
        return "date_format"
    return None if _date_or_none(value[:4], value[5:7], value[8:10]) else "date_invalid"


def _date_or_none(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


_FORMAT_RULES = {"cn_id": _id_problem, "cn_mobile": _mobile_problem, "email": _email_problem,
                 "date": _date_problem}


def check_item(session: Session, material: Material, item: ApplicationItem | None) -> str | None:
    """None if the item is acceptable for the material; else ``missing``, ``bad_type``, ``too_large`` or ``bad_format``."""
    if item is None:
        return "missing" if material.required else None
    if item.kind == "text":
        if not material.takes_text:
            return "bad_type"
        return None if text_problem(material, item.value or "") is None else "bad_format"
    attachment = session.get(Attachment, item.attachment_id) if item.attachment_id else None
    if attachment is None:
        return "missing"
    return check_file(material, attachment)


def problems(session: Session, app: Application, service: Service,
             statuses: tuple[str, ...] = ("current",), only: list[str] | None = None) -> list[tuple[Material, str]]:
    """Everything missing or wrong, in the service's order (for 一次性告知)."""
    items = items_of(session, app, statuses)
    found = []
    for material in service.materials:
        if only is not None and material.id not in only:
            continue
        reason = check_item(session, material, items.get(material.id))
        if reason is None and only is not None and material.id not in items:
            reason = "missing"
        if reason is not None:
            found.append((material, reason))
    return found


def put_item(session: Session, app: Application, material: Material, *, value: str | None = None,
             attachment: Attachment | None = None, status: str = "current") -> ApplicationItem:
    """Store a material, replacing an earlier one with the same status."""
    drop_items(session, app, status, material.id)
    item = ApplicationItem(application_id=app.id, material_id=material.id,
                           kind="file" if attachment is not None else "text",
                           attachment_id=attachment.id if attachment is not None else None,
                           value=value, status=status)
    session.add(item)
    if material.notify_email and value:
        app.email = value
    session.flush()
    return item


def drop_items(session: Session, app: Application, status: str, material_id: str | None = None) -> None:
    """Delete the application's items with ``status`` (only those of ``material_id`` if given)."""
    query = delete(ApplicationItem).where(ApplicationItem.application_id == app.id, ApplicationItem.status == status)
    if material_id is not None:
        query = query.where(ApplicationItem.material_id == material_id)
    session.execute(query)


def promote_pending(session: Session, app: Application) -> list[str]:
    """Put the items supplied during a correction in force; the ones they replace are superseded."""
    pending = items_of(session, app, ("pending",))
    for mid, item in pending.items():
        for old in session.scalars(select(ApplicationItem).where(
                ApplicationItem.application_id == app.id, ApplicationItem.material_id == mid,
                ApplicationItem.status == "current")):
            old.status = "superseded"
        item.status = "current"
    return list(pending)


def record_file_access(session: Session, app: Application, item: ApplicationItem, actor: Actor, action: str,
                       via: str) -> None:
    """Every staff view or download of a case's file is recorded: who, when, which file."""
    if item.attachment_id is None:
        raise InvalidRequest("this material is a typed value, not a file")
    session.add(FileAccess(application_id=app.id, item_id=item.id, attachment_id=item.attachment_id, action=action,
                           actor_name=actor.name, staff_id=actor.staff_id, via=via))
