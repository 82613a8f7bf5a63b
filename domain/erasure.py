"""Erasure of a person's data (PIPL art. 47, GDPR art. 17), over all their linked identities.

Personal data is deleted or irreversibly anonymised in place: names, phones, e-mails, message
text, files (the bytes too), application materials, complaint text, rating comments, recorded
questions. Rows stay, emptied, so the dashboard's figures keep counting them; each identity's
external id (and each chat's id) becomes a one-way token, so nobody can tell whose it was while
duplicate platform deliveries, recorded by their own delivery keys, are still dropped.

Cases whose records must be kept (``BOT_RETENTION_KEEP_STAGES`` / ``BOT_RETENTION_KEEP_DAYS``)
are left whole and named in the outcome; the customer is told which and why (``CustomerErased``,
whose listener also sends the ``customer.erased`` webhook). A customer's own request in chat is
an ``ErasureRequest`` that staff approve (the erasure runs) or reject with a reason.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from domain import audit
from domain.applications.stages import STAGES
from domain.complaints.lifecycle import STATUSES
from domain.customers import Address, CustomerErased, KeptCase, customer_ids_of_person
from domain.events import Event
from domain.privacy import find_identity, record_request
from domain.settings import DeskServices, DeskSettings
from storage.attachments import AttachmentStore
from storage.db import scrub_after_commit
from storage.models import (
    Application,
    ApplicationExtension,
    ApplicationItem,
    ApplicationTransition,
    Attachment,
    Complaint,
    ComplaintEvent,
    Conversation,
    Customer,
    CustomerDataRequest,
    ErasureRequest,
    FileAccess,
    HandoffEvent,
    HandoffNote,
    HandoffSession,
    InboxItem,
    KnowledgeQuestion,
    Message,
    OutboxItem,
    Rating,
    WebhookDelivery,
    utcnow,
)
from storage.outbox import SENDER
from storage.search import purge_deleted_text

#: The stages the retention setting may name, by kind of case.
KINDS = {"application": frozenset(STAGES) - {"draft"}, "complaint": frozenset(STATUSES)}
#: The status a recorded question still waiting for staff takes when its text is erased.
QUESTION_ERASED = "erased"
#: Why a reply still waiting to be sent to an erased chat never will be.
NOT_SENT = "not sent: the customer's data was erased"


class ErasureError(ValueError):
    """An erasure or a request that cannot go ahead (no reason given, already decided ...)."""


def parse_keep_stages(raw: str) -> frozenset[tuple[str, str]]:
    """``application:completed, complaint:closed`` as (kind, stage) pairs; a clear error otherwise."""
    pairs = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        kind, _, stage = part.partition(":")
        if stage not in KINDS.get(kind, ()):
            known = ", ".join(f"{k}:{s}" for k in KINDS for s in sorted(KINDS[k]))
            raise ValueError(f"unknown case stage {part!r}; write KIND:STAGE, one of {known}")
        pairs.add((kind, stage))
    return frozenset(pairs)


def _kept_until(settings: DeskSettings, kind: str, stage: str, changed: datetime, now: datetime) -> tuple[bool, Any]:
    if (kind, stage) not in parse_keep_stages(settings.retention_keep_stages):
        return False, None
    if not settings.retention_keep_days:
        return True, None
    until = changed + timedelta(days=settings.retention_keep_days)
    return until > now, until.date()


def kept_cases(session: Session, settings: DeskSettings, ids: list[int]) -> tuple[list[KeptCase], set[int], set[int]]:
    """What an erasure of these customers keeps: the cases, and the ids of the applications and complaints."""
    now, kept, apps, complaints = utcnow(), [], set(), set()
    for app in session.scalars(select(Application).where(Application.customer_id.in_(ids),
                                                         Application.stage != "draft").order_by(Application.id)):
        keep, until = _kept_until(settings, "application", app.stage, app.closed_at or app.stage_changed_at, now)
        if keep:
            kept.append(KeptCase("application", app.reference or str(app.id), app.stage, until))
            apps.add(app.id)
    for complaint in session.scalars(select(Complaint).where(Complaint.customer_id.in_(ids)).order_by(Complaint.id)):
        keep, until = _kept_until(settings, "complaint", complaint.status,
                                  complaint.closed_at or complaint.updated_at, now)
        if keep:
            kept.append(KeptCase("complaint", complaint.ticket, complaint.status, until))
            complaints.add(complaint.id)
    return kept, apps, complaints


def one_way_token() -> str:
    """What replaces an erased identity's or chat's id: a salted hash whose salt is thrown away,
    so it says nothing of the old value, to anyone."""
    return "erased-" + hashlib.sha256(secrets.token_bytes(32)).hexdigest()[:32]


@dataclass
class Scope:
    """One erasure's reach: the person's customers and conversations, and what is kept."""

    ids: list[int]
    conversations: list[int]
    kept: list[KeptCase]
    kept_applications: set[int]
    kept_complaints: set[int]


def _scope(session: Session, settings: DeskSettings, customer: Customer) -> Scope:
    ids = customer_ids_of_person(session, customer)
    conversations = list(session.scalars(select(Conversation.id).where(Conversation.customer_id.in_(ids))))
    return Scope(ids, conversations, *kept_cases(session, settings, ids))


def _erase_files(session: Session, store: AttachmentStore, scope: Scope) -> int:
    """The person's files not part of a kept case: records gone now, bytes when the change commits."""
    held = set(session.scalars(select(ApplicationItem.attachment_id).where(
        ApplicationItem.application_id.in_(scope.kept_applications), ApplicationItem.attachment_id.is_not(None))))
    for complaint in session.scalars(select(Complaint).where(Complaint.id.in_(scope.kept_complaints))):
        held.update(int(a) for a in complaint.attachment_ids or [])
    doomed = [a for a in session.scalars(select(Attachment).where(or_(
        Attachment.customer_id.in_(scope.ids), Attachment.conversation_id.in_(scope.conversations))))
        if a.id not in held]
    ids = [a.id for a in doomed]
    session.execute(update(ApplicationItem).where(ApplicationItem.attachment_id.in_(ids)).values(attachment_id=None))
    session.query(FileAccess).filter(FileAccess.attachment_id.in_(ids)).delete(synchronize_session=False)
    store.remove(session, doomed)
    return len(doomed)


def _erase_applications(session: Session, scope: Scope) -> list[str]:
    """Materials, e-mail, notes and history comments of the person's applications not kept; the
    rows (stage, dates, service) stay for the figures. Returns the webhook subjects emptied."""
    apps = list(session.scalars(select(Application).where(Application.customer_id.in_(scope.ids),
                                                          Application.id.not_in(scope.kept_applications))))
    ids = [a.id for a in apps]
    for app in apps:
        app.email = app.check_code_hash = app.decision_reason = app.remedy = app.follow_up = None
        app.correction_items = []
    session.query(ApplicationItem).filter(ApplicationItem.application_id.in_(ids)).delete(synchronize_session=False)
    session.query(FileAccess).filter(FileAccess.application_id.in_(ids)).delete(synchronize_session=False)
    for transition in session.scalars(select(ApplicationTransition).where(
            ApplicationTransition.application_id.in_(ids))):
        transition.comment, transition.details = None, {}
        if transition.actor_kind == "customer":
            transition.actor_name = "customer"
    session.execute(update(ApplicationExtension).where(ApplicationExtension.application_id.in_(ids))
                    .values(reason=""))
    return [f"application:{i}" for i in ids]


def _erase_complaints(session: Session, scope: Scope) -> list[str]:
    complaints = list(session.scalars(select(Complaint).where(Complaint.customer_id.in_(scope.ids),
                                                              Complaint.id.not_in(scope.kept_complaints))))
    for complaint in complaints:
        complaint.description, complaint.attachment_ids = "", []
        complaint.application_ref = complaint.contact_value = None
        complaint.resolution = complaint.finding = complaint.measure = None
    ids = [c.id for c in complaints]
    session.execute(update(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(ids))
                    .values(comment=None, details={}))
    return [f"complaint:{i}" for i in ids]


def _erase_feedback(session: Session, scope: Scope) -> list[str]:
    """Rating comments, recorded questions' text, handoff questions and staff notes on the chats."""
    ratings = list(session.scalars(select(Rating.id).where(Rating.customer_id.in_(scope.ids))))
    session.execute(update(Rating).where(Rating.id.in_(ratings)).values(comment=None))
    questions = list(session.scalars(select(KnowledgeQuestion.id).where(or_(
        KnowledgeQuestion.customer_id.in_(scope.ids), KnowledgeQuestion.conversation_id.in_(scope.conversations)))))
    session.execute(update(KnowledgeQuestion).where(KnowledgeQuestion.id.in_(questions))
                    .values(text="", staff_answer=None))
    session.execute(update(KnowledgeQuestion).where(KnowledgeQuestion.id.in_(questions),
                                                    KnowledgeQuestion.status == "open")
                    .values(status=QUESTION_ERASED))
    handoffs = list(session.scalars(select(HandoffSession.id).where(HandoffSession.customer_id.in_(scope.ids))))
    session.execute(update(HandoffSession).where(HandoffSession.id.in_(handoffs)).values(question=""))
    session.execute(update(HandoffEvent).where(HandoffEvent.handoff_id.in_(handoffs)).values(detail={}))
    session.query(HandoffNote).filter(HandoffNote.conversation_id.in_(scope.conversations)).delete(
        synchronize_session=False)
    return ([f"rating:{i}" for i in ratings] + [f"question:{i}" for i in questions]
            + [f"handoff:{i}" for i in handoffs])


def _erase_chats(session: Session, scope: Scope) -> None:
    """Transcripts, deliveries in and out: texts and payloads emptied, chat ids made tokens, replies
    not yet sent given up (failed, ``NOT_SENT``). An inbox row keeps its delivery key, so a
    platform sending the same update again is still dropped."""
    session.execute(update(Message).where(Message.conversation_id.in_(scope.conversations))
                    .values(text="", button=None, payload={}, platform_message_id=None))
    purge_deleted_text(session)
    for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(scope.conversations))):
        old, conversation.chat_id = conversation.chat_id, one_way_token()
        conversation.state, conversation.state_data = None, {}
        inbox = or_(InboxItem.conversation_id == conversation.id,
                    (InboxItem.channel == conversation.channel) & (InboxItem.chat_id == old))
        session.execute(update(InboxItem).where(inbox, InboxItem.status == "pending").values(status="done"))
        session.execute(update(InboxItem).where(inbox).values(chat_id=conversation.chat_id, payload={},
                                                              last_error=None))
        for item in session.scalars(select(OutboxItem).where(OutboxItem.conversation_id == conversation.id)):
            item.chat_id, item.last_error = conversation.chat_id, None
            item.payload = {"text": "", SENDER: item.payload.get(SENDER, "bot")}
            if item.status == "pending":  # kept, not deleted: ids must not be reused (web chat's ``after``)
                item.status, item.last_error = "failed", NOT_SENT


def _erase_identities(session: Session, scope: Scope) -> dict[str, str]:
    """Names, phones, e-mails gone, external ids made tokens; old identity -> the token's."""
    renamed = {}
    for customer in session.scalars(select(Customer).where(Customer.id.in_(scope.ids))):
        old = f"{customer.channel}:{customer.external_id}"
        customer.external_id = one_way_token()
        customer.display_name = customer.phone = customer.email = None
        renamed[old] = f"{customer.channel}:{customer.external_id}"
    for model in (CustomerDataRequest, ErasureRequest):
        for row in session.scalars(select(model).where(model.identity.in_(renamed))):
            row.identity = renamed[row.identity]
    return renamed


def _empty_webhook_data(session: Session, subjects: Iterable[str]) -> None:
    for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.subject.in_(list(subjects)))):
        delivery.body = {**delivery.body, "data": {}}


def last_address(session: Session, ids: list[int], conversation_id: int | None = None) -> Address | None:
    """The chat to tell the person in: the one named, else the one they wrote in last."""
    query = select(Conversation).where(Conversation.customer_id.in_(ids))
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    conversation = session.scalars(query.order_by(Conversation.last_message_at.desc().nulls_last(),
                                                  Conversation.id.desc())).first()
    if conversation is None:
        return None
    return Address(conversation.id, conversation.channel, conversation.chat_id, conversation.language)


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: its record, the identities as they are now written, what was kept."""

    record: CustomerDataRequest
    identities: dict[str, str]
    kept: list[KeptCase]
    files: int
    customer_told: bool

    def to_json(self) -> dict[str, Any]:
        return {"erasure_id": self.record.id, "identities": sorted(self.identities.values()),
                "customer_ids": list(self.record.customer_ids), "files_deleted": self.files,
                "kept": [case.to_json() for case in self.kept], "customer_told": self.customer_told,
                "erased_at": self.record.created_at.isoformat()}


def erase_person(session: Session, services: DeskServices, store: AttachmentStore, customer: Customer, actor: str,
                 reason: str, tell_conversation: int | None = None) -> Erasure:
    """Erase everything held about ``customer``'s person but the kept cases, record who and why,
    and publish ``CustomerErased`` (the customer is told in ``tell_conversation``, else their last chat)."""
    if not (reason or "").strip():
        raise ErasureError("give the reason for the erasure (it is recorded)")
    scope = _scope(session, services.settings, customer)
    tell = last_address(session, scope.ids, tell_conversation)
    files = _erase_files(session, store, scope)
    subjects = _erase_applications(session, scope) + _erase_complaints(session, scope)
    subjects += _erase_feedback(session, scope)
    _erase_chats(session, scope)
    renamed = _erase_identities(session, scope)
    _empty_webhook_data(session, subjects)
    record = record_request(session, "erasure", f"{customer.channel}:{customer.external_id}", scope.ids, actor, reason.strip(),
                            {"kept": [case.to_json() for case in scope.kept], "files_deleted": files})
    session.flush()
    scrub_after_commit(session)
    for request in session.scalars(select(ErasureRequest).where(ErasureRequest.customer_id.in_(scope.ids),
                                                                ErasureRequest.status == "pending")):
        request.status, request.record_id, request.decided_by, request.decided_at = "erased", record.id, actor, utcnow()
    services.events.publish(session, CustomerErased(record.id, tuple(scope.ids), tuple(scope.conversations), tuple(scope.kept),
                                                    record.created_at, tell))
    return Erasure(record, renamed, scope.kept, files, tell is not None)


def erase_identity(session: Session, services: DeskServices, store: AttachmentStore, identity: str, actor: str,
                   reason: str) -> Erasure:
    """Erase the person written ``CHANNEL:EXTERNAL_ID`` (``UnknownCustomer`` if there is none)."""
    return erase_person(session, services, store, find_identity(session, identity), actor, reason)


# -- a customer's own request, decided by staff ------------------------------------------------


@dataclass(frozen=True)
class ErasureRejected(Event):
    """Staff turned a customer's erasure request down, with a reason the customer is told."""

    name: ClassVar[str] = "customer.erasure_rejected"
    request_id: int
    conversation_id: int


def pending_request(session: Session, customer: Customer) -> ErasureRequest | None:
    ids = customer_ids_of_person(session, customer)
    return session.scalars(select(ErasureRequest).where(ErasureRequest.customer_id.in_(ids),
                                                        ErasureRequest.status == "pending")).first()


def request_erasure(session: Session, customer: Customer, conversation: Conversation) -> tuple[ErasureRequest, bool]:
    """Record the customer's request for staff (one open request per person); True when new."""
    existing = pending_request(session, customer)
    if existing is not None:
        return existing, False
    request = ErasureRequest(identity=f"{customer.channel}:{customer.external_id}", customer_id=customer.id,
                             conversation_id=conversation.id)
    session.add(request)
    session.flush()
    return request, True


def pending_requests(session: Session) -> list[ErasureRequest]:
    return list(session.scalars(select(ErasureRequest).where(ErasureRequest.status == "pending")
                                .order_by(ErasureRequest.id)))


def _undecided(session: Session, request_id: int) -> ErasureRequest:
    request = session.get(ErasureRequest, request_id, with_for_update=True)
    if request is None:
        raise ErasureError(f"no erasure request {request_id}")
    if request.status != "pending":
        raise ErasureError(f"erasure request {request_id} is already {request.status}")
    return request


def approve(session: Session, services: DeskServices, store: AttachmentStore, request_id: int, actor: str,
            note: str | None = None) -> Erasure:
    """Staff approve: the erasure runs, the customer is told in the chat they asked from."""
    request = _undecided(session, request_id)
    customer = session.get(Customer, request.customer_id)
    if customer is None:
        raise ErasureError(f"the customer of erasure request {request_id} is gone")
    reason = f"customer asked in chat (request {request.id})" + (f"; {note.strip()}" if note and note.strip() else "")
    erasure = erase_person(session, services, store, customer, actor, reason, request.conversation_id)
    request.decision_reason = (note or "").strip() or None
    return erasure


def reject(session: Session, services: DeskServices, request_id: int, actor: str, reason: str) -> ErasureRequest:
    """Staff reject, saying why; the customer is told."""
    if not (reason or "").strip():
        raise ErasureError("say why the request is rejected (the customer is told)")
    request = _undecided(session, request_id)
    request.status, request.decided_by, request.decided_at = "rejected", actor, utcnow()
    request.decision_reason = reason.strip()
    audit.record(session, actor=actor, action="customer.erasure_rejected", subject=f"erasure_request:{request.id}",
                 detail={"reason": request.decision_reason})
    services.events.publish(session, ErasureRejected(request.id, request.conversation_id))
    return request
