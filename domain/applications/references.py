"""Finding an application, and proving it is yours: reference numbers (``SVC-YYYYMMDD-XXXX``),
the check code shown once at submission, and the one-time code sent to the owner's chat for a
customer who writes from a new channel and lost the check code. A code that fits links the new
identity to the owner's person (domain/customers.py).

Nobody learns whether a reference exists: asking for a code about an unknown number is silent.
A 6-digit code cannot be guessed: wrong codes are counted in the database per reference, per
person and per network address, whatever the session or worker, and the one that reaches its
limit is locked for a while (``check_code``).
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.catalogue import Service
from domain.customers import LINK_CODE_TTL, issue_link_code, link_identities, redeem_link_code
from domain.settings import DeskSettings
from storage import counters
from storage.models import Application, Conversation, Customer, utcnow
from storage.repositories import lock_for_update, person_customer_ids

log = logging.getLogger(__name__)

REFERENCE = re.compile(r"\b([A-Za-z]{2,4})-(\d{8})-([2-9A-HJ-NP-Za-hj-np-z]{4})\b")
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_reference(session: Session, service: Service, today: date) -> str:
    """A reference number not used yet: the service's code, the day, four unambiguous characters."""
    while True:
        suffix = "".join(secrets.choice(_REF_ALPHABET) for _ in range(4))
        reference = f"{service.code}-{today:%Y%m%d}-{suffix}"
        if session.scalars(select(Application.id).where(Application.reference == reference)).first() is None:
            return reference


def check_code_hash(reference: str, code: str) -> str:
    return hashlib.sha256(f"{reference.upper()}:{code.strip()}".encode()).hexdigest()


def by_reference(session: Session, reference: str, lock: bool = False) -> Application | None:
    query = select(Application).where(Application.reference == reference.strip().upper())
    return session.scalars(lock_for_update(session, query) if lock else query).one_or_none()


def customer_applications(session: Session, customer: Customer) -> list[Application]:
    """The person's submitted applications, over all linked identities, newest first."""
    return list(session.scalars(
        select(Application).where(Application.customer_id.in_(person_customer_ids(customer)),
                                  Application.stage != "draft")
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    ))


def owned_by(session: Session, customer: Customer, reference: str, lock: bool = False) -> Application | None:
    """The application with this reference only if it belongs to the customer (or a linked identity);
    ``lock`` holds its row (PostgreSQL) so a staff change cannot interleave with the customer's."""
    app = by_reference(session, reference, lock=lock)
    if app is None or app.stage == "draft":
        return None
    owner = session.get(Customer, app.customer_id)
    return app if owner is not None and owner.person == customer.person else None


@dataclass(frozen=True)
class LinkCode:
    """A one-time code to be told in the owner's chat (the caller words and queues it)."""

    application: Application
    conversation: Conversation
    code: str
    minutes: int


def issue_code_to_owner(session: Session, requester: Customer, reference: str) -> LinkCode | None:
    """A one-time code for the chat the application was submitted from, for ``requester`` who lost
    the check code. None when the reference is unknown or the requester owns it already, when the
    owner has no chat, or while an earlier code for the case is live (one per LINK_CODE_TTL)."""
    app = by_reference(session, reference)
    if app is None or app.stage == "draft":
        return None
    owner = session.get(Customer, app.customer_id)
    if owner is None or owner.person == requester.person:
        return None
    conversation = session.get(Conversation, app.conversation_id) if app.conversation_id is not None else None
    if conversation is None:
        return None
    code = issue_link_code(session, _subject(app), requester.person,
                           lambda typed: check_code_hash(app.reference or "", typed))
    if code is None:
        return None
    log.info("link code issued for application %s to its owner's chat", app.id)
    return LinkCode(app, conversation, code, int(LINK_CODE_TTL.total_seconds() // 60))


def verify_and_link(session: Session, customer: Customer, reference: str, code: str) -> Application | None:
    """The application if ``code`` is its check code (or a one-time code sent for this customer); the
    customer's identity is then linked to its owner's."""
    app = by_reference(session, reference)
    if app is None or app.stage == "draft" or app.check_code_hash is None:
        return None
    digest = check_code_hash(app.reference or "", code)
    if not secrets.compare_digest(app.check_code_hash, digest) and not redeem_link_code(
            session, _subject(app), customer.person, digest):
        return None
    owner = session.get(Customer, app.customer_id)
    if owner is not None:
        link_identities(session, customer, owner)
        session.refresh(customer)
    log.info("identity linked by code: customer=%s application=%s", customer.id, app.id)
    return app


@dataclass(frozen=True)
class CodeCheck:
    """What a typed code gave: the application (identities now linked), or a refusal with the
    tries left before a lock, or ``locked_until`` when too many wrong codes came first."""

    application: Application | None
    tries_left: int = 0
    locked_until: datetime | None = None


def check_code(session: Session, settings: DeskSettings, customer: Customer, reference: str, code: str,
               address: str | None = None) -> CodeCheck:
    """``verify_and_link`` within the guessing limits. Every try is counted before anything else (one
    atomic UPSERT per key, which also holds the key's row, so simultaneous tries on one reference
    queue and each sees the lock the one before it set): no more codes than the limit are ever
    compared, however many sessions or workers try at once."""
    now = utcnow()
    window = timedelta(minutes=settings.check_code_lockout_minutes)
    owner_keys = {f"code:ref:{reference.strip().upper()}": settings.check_code_max_failures,
                  f"code:person:{customer.person}": settings.check_code_max_failures}
    limits = {**owner_keys, **({f"code:addr:{address}": settings.check_code_address_max_failures} if address else {})}
    hits = {key: counters.count_hit(session, key, window, now) for key in limits}
    locked = [until for key in limits if (until := counters.locked_until(session, key, now)) is not None]
    if locked or _lock_spent(session, {key: limit + 1 for key, limit in limits.items()}, hits, now + window):
        return CodeCheck(None, locked_until=max(locked, default=now + window))
    app = verify_and_link(session, customer, reference, code)
    if app is not None:
        for key in owner_keys:  # an address keeps its count: it may be many people's
            counters.clear(session, key)
        return CodeCheck(app)
    if _lock_spent(session, limits, hits, now + window):
        return CodeCheck(None, locked_until=now + window)
    return CodeCheck(None, tries_left=min(limit - hits[key] for key, limit in limits.items()))


def _lock_spent(session: Session, limits: dict[str, int], hits: dict[str, int], until: datetime) -> bool:
    """Lock every key whose hits reached its limit; whether any did."""
    spent = [key for key, limit in limits.items() if hits[key] >= limit]
    for key in spent:
        counters.lock(session, key, until)
    if spent:
        log.warning("check code: too many tries, locked until %s: %s", until, ", ".join(spent))
    return bool(spent)


def _subject(app: Application) -> str:
    return f"application:{app.id}"
