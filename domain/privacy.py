"""The customer's rights over their data: a copy of everything held about a person, across their
linked identities (PIPL art. 45, GDPR art. 15/20), with each request recorded with who and why.

``export_person`` gathers profile, conversations, messages, applications (with history and
files), complaints, ratings, recorded questions and handoffs; ``archive`` packs it as one ZIP of
``data.json`` plus the files.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain.applications.representation import detail
from domain.complaints.representation import complaint_json
from domain.customers import customer_ids_of_person
from domain.handoff.representation import handoff_json
from domain.questions import question_json
from domain.ratings import rating_json
from domain.settings import DeskServices
from domain.webhooks import plain
from storage.attachments import AttachmentStore
from storage.models import (
    Application,
    Attachment,
    Complaint,
    Conversation,
    Customer,
    CustomerDataRequest,
    HandoffSession,
    KnowledgeQuestion,
    Message,
    Rating,
)


class UnknownCustomer(LookupError):
    """No customer with that CHANNEL:EXTERNAL_ID (or it is not written that way)."""


@dataclass(frozen=True)
class PersonExport:
    """What is held about one person: JSON-ready data and the stored files (archive name -> bytes)."""

    data: dict[str, Any]
    files: dict[str, bytes]


def find_identity(session: Session, identity: str) -> Customer:
    """The customer named ``CHANNEL:EXTERNAL_ID`` (``web:SESSION_ID``, ``telegram:USER_ID`` ...)."""
    channel, _, external_id = identity.partition(":")
    if not channel or not external_id:
        raise UnknownCustomer(f"write the customer as CHANNEL:EXTERNAL_ID, e.g. telegram:12345, not {identity!r}")
    customer = session.scalars(select(Customer).where(Customer.channel == channel,
                                                      Customer.external_id == external_id)).one_or_none()
    if customer is None:
        raise UnknownCustomer(f"no customer {identity}")
    return customer


def _rows(session: Session, model: Any, column: Any, ids: list[int]) -> list[Any]:
    return list(session.scalars(select(model).where(column.in_(ids)).order_by(model.id)))


def _conversations(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    out = []
    for conversation in _rows(session, Conversation, Conversation.customer_id, ids):
        messages = _rows(session, Message, Message.conversation_id, [conversation.id])
        out.append({"id": conversation.id, "customer_id": conversation.customer_id, "channel": conversation.channel,
                    "chat_id": conversation.chat_id, "language": conversation.language,
                    "created_at": conversation.created_at,
                    "messages": [{"id": m.id, "from": m.sender, "text": m.text, "button": m.button,
                                  "files": m.payload.get("files", []), "at": m.created_at} for m in messages]})
    return out


def _files(session: Session, store: AttachmentStore, ids: list[int]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    listed, files = [], {}
    for attachment in _rows(session, Attachment, Attachment.customer_id, ids):
        name = f"files/{attachment.id}-{attachment.original_name or 'file'}"
        try:
            files[name] = store.read(attachment)
        except FileNotFoundError:
            name = ""
        listed.append({"id": attachment.id, "name": attachment.original_name, "mime": attachment.mime,
                       "size": attachment.size, "created_at": attachment.created_at, "archive_path": name or None})
    return listed, files


def export_person(session: Session, services: DeskServices, store: AttachmentStore, customer: Customer) -> PersonExport:
    """Everything held about ``customer``'s person, over all linked identities (values unmasked:
    it is their own data)."""
    ids = customer_ids_of_person(session, customer)
    identities = _rows(session, Customer, Customer.id, ids)
    listed, files = _files(session, store, ids)
    applications = [a for a in _rows(session, Application, Application.customer_id, ids) if a.stage != "draft"]
    data = {
        "identities": [{"id": c.id, "channel": c.channel, "external_id": c.external_id, "name": c.display_name,
                        "phone": c.phone, "email": c.email, "created_at": c.created_at} for c in identities],
        "conversations": _conversations(session, ids),
        "applications": [detail(session, services, a, reveal=True) for a in applications],
        "complaints": [complaint_json(c, with_events=True) for c in _rows(session, Complaint, Complaint.customer_id, ids)],
        "ratings": [rating_json(r) for r in _rows(session, Rating, Rating.customer_id, ids)],
        "questions": [question_json(q) for q in _rows(session, KnowledgeQuestion, KnowledgeQuestion.customer_id, ids)],
        "handoffs": [handoff_json(h) for h in _rows(session, HandoffSession, HandoffSession.customer_id, ids)],
        "files": listed,
    }
    return PersonExport(plain(data), files)


def archive(export: PersonExport) -> bytes:
    """One ZIP: ``data.json`` (UTF-8, readable) and the files under ``files/``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", json.dumps(export.data, ensure_ascii=False, indent=2))
        for name, content in export.files.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def record_request(session: Session, kind: str, identity: str, customer_ids: list[int], actor: str,
                   reason: str | None, extra: dict[str, Any] | None = None) -> CustomerDataRequest:
    """Note an export or erasure with who asked and why (kept when the data itself is gone), and
    put it in the audit log under the record's number (the identity itself stays out of the log:
    an erasure replaces it in the record, and the log must not keep it either)."""
    row = CustomerDataRequest(kind=kind, identity=identity, customer_ids=customer_ids, actor=actor, reason=reason,
                              detail=extra or {})
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action=f"customer.{kind}", subject=f"customer_data_request:{row.id}",
                 detail={"reason": reason, "people": len(customer_ids), **(extra or {})})
    return row


def export_identity(session: Session, services: DeskServices, store: AttachmentStore, identity: str, actor: str,
                    reason: str | None = None) -> bytes:
    """The archive of ``identity``'s person, the export recorded."""
    customer = find_identity(session, identity)
    export = export_person(session, services, store, customer)
    ids = [c["id"] for c in export.data["identities"]]
    record_request(session, "export", identity, ids, actor, reason, {"files": len(export.files)})
    return archive(export)
