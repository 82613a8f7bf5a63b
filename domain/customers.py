"""Customers and their identities: one person may write from several channels (Telegram, WeCom,
the web chat); each is a ``Customer`` row, and linked rows share one person id (the oldest).

Here: which identities are one person, linking two of them, the one-time codes that prove a
new identity belongs to the person, and the one masking rule for
personal data shown to staff.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.events import Event
from storage.models import Application, ApplicationItem, Customer
from storage.repositories import KeyValueStore, person_customer_ids

#: How long a one-time link code stays valid; one code per subject in that time.
LINK_CODE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class KeptCase:
    """A case an erasure kept because its records must be kept (the retention setting)."""

    kind: str  # application | complaint
    reference: str
    stage: str
    until: date | None  # None: kept for good

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "reference": self.reference, "stage": self.stage,
                "kept_until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class Address:
    """Where a customer was last heard from, taken before an erasure replaced the chat's id."""

    conversation_id: int
    channel: str
    chat_id: str
    language: str | None


@dataclass(frozen=True)
class CustomerErased(Event):
    """A person's data was erased (``record_id``: the erasure's record). ``tell`` is the chat to
    tell them in, never sent out of the desk; the webhook shows ids and kept cases only."""

    name: ClassVar[str] = "customer.erased"
    record_id: int
    customer_ids: tuple[int, ...]
    conversation_ids: tuple[int, ...]
    kept: tuple[KeptCase, ...]
    erased_at: datetime
    tell: Address | None

    def to_json(self) -> dict[str, Any]:
        return {"erasure_id": self.record_id, "customer_ids": list(self.customer_ids),
                "kept": [case.to_json() for case in self.kept], "erased_at": self.erased_at.isoformat()}


def customer_ids_of_person(session: Session, customer: Customer) -> list[int]:
    """The ids of every identity of ``customer``'s person, itself included."""
    return list(session.scalars(person_customer_ids(customer)))


#: Materials whose typed value names the applicant (a person's or a company's name).
NAME_MATERIALS = ("full_name", "company_name")


def known_name(session: Session, customer: Customer) -> str | None:
    """What staff call the customer: the platform's display name, else the name typed in the
    person's newest submitted application; None when neither is known."""
    if customer.display_name:
        return customer.display_name
    return session.scalars(
        select(ApplicationItem.value).join(Application, Application.id == ApplicationItem.application_id)
        .where(Application.customer_id.in_(person_customer_ids(customer)), Application.stage != "draft",
               ApplicationItem.material_id.in_(NAME_MATERIALS), ApplicationItem.status == "current")
        .order_by(Application.id.desc(), ApplicationItem.id.desc())).first()


def link_identities(session: Session, a: Customer, b: Customer) -> int:
    """Make two identities one person: every identity of either now shares the older person id."""
    root, other = sorted({a.person, b.person})[0], sorted({a.person, b.person})[-1]
    if root == other:
        return root
    for customer in session.scalars(select(Customer).where(
            (Customer.id == other) | (Customer.person_id == other))):
        customer.person_id = root
    root_customer = session.get(Customer, root)
    if root_customer is not None:
        root_customer.person_id = None
    session.flush()
    return root


def six_digit_code() -> str:
    """A random code a person can type: check codes and one-time link codes."""
    return f"{secrets.randbelow(1_000_000):06d}"


def issue_link_code(session: Session, subject: str, for_person: int, digest: Callable[[str], str]) -> str | None:
    """A fresh one-time code proving ``for_person`` may see ``subject`` (kept as ``digest(code)``
    for LINK_CODE_TTL); None while an earlier code for the subject is still live, so nobody can
    flood the owner's chat."""
    store = KeyValueStore(session)
    key = _link_code_key(subject)
    if store.get(key) is not None:
        return None
    code = six_digit_code()
    store.put(key, {"hash": digest(code), "person": for_person}, ttl=LINK_CODE_TTL)
    return code


def redeem_link_code(session: Session, subject: str, person: int, digest: str) -> bool:
    """True (and the code is used up) if ``digest`` is the live code issued for ``person``."""
    store = KeyValueStore(session)
    key = _link_code_key(subject)
    value = store.get(key)
    if value is None or value.get("person") != person:
        return False
    if not secrets.compare_digest(str(value.get("hash", "")), digest):
        return False
    store.remove(key)
    return True


def _link_code_key(subject: str) -> str:
    return f"link_code:{subject}"


def mask(value: str | None, how: str) -> str | None:
    """ID numbers keep 3 + 4 characters, phone numbers 3 + 4 digits; other values are shown."""
    if value is None or how == "none":
        return value
    if how == "id":
        return value[:3] + "*" * max(len(value) - 7, 3) + value[-4:] if len(value) > 7 else "*" * len(value)
    if how == "phone":
        return value[:3] + "****" + value[-4:] if len(value) > 7 else "*" * len(value)
    return value
