"""Finding past conversations for staff: by the customer's name or phone, an application's
reference or a complaint's ticket, the text of its messages, channel, date range and handoff
status. Every filter given must hold; the newest conversations come first.

What the finder may see of a phone is the console's business (it masks by role); the text
lookup is storage's (storage/search.py, an index on each database).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Application, Complaint, Conversation, Customer, HandoffSession, Message
from storage.search import contains_pattern, messages_containing

#: Handoff statuses one may search for; "none": never handed to staff.
STATUSES = ("waiting", "active", "closed", "none")


@dataclass(frozen=True)
class ConversationQuery:
    name: str = ""
    phone: str = ""
    number: str = ""  # an application's reference or a complaint's ticket
    text: str = ""
    channel: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    status: str = ""

    def __post_init__(self) -> None:
        if self.status and self.status not in STATUSES:
            raise ValueError(f"unknown handoff status {self.status!r}; one of {', '.join(STATUSES)}")

    @property
    def empty(self) -> bool:
        return not any((self.name.strip(), self.phone_digits, self.number.strip(), self.text.strip(), self.channel,
                        self.since, self.until, self.status))

    @property
    def phone_digits(self) -> str:
        return "".join(ch for ch in self.phone if ch.isdigit())


@dataclass(frozen=True)
class ConversationHit:
    conversation: Conversation
    customer: Customer
    last_at: datetime | None
    handoff_status: str  # one of STATUSES
    snippet: str  # the first matching message, or the latest one


def _status_filter(status: str) -> ColumnElement[bool]:
    any_open = select(HandoffSession.id).where(HandoffSession.conversation_id == Conversation.id,
                                               HandoffSession.status != "closed")
    if status in ("waiting", "active"):
        return exists(any_open.where(HandoffSession.status == status))
    ever = exists(select(HandoffSession.id).where(HandoffSession.conversation_id == Conversation.id))
    return and_(ever, ~exists(any_open)) if status == "closed" else ~ever


def _messages_in(session: Session, query: ConversationQuery) -> Select[tuple[int]] | None:
    """Conversations with a message matching the text and the date range, or None (no such filter)."""
    text = query.text.strip()
    if not text and query.since is None and query.until is None:
        return None
    found = select(Message.conversation_id)
    if text:
        found = found.where(Message.id.in_(messages_containing(session, text)))
    if query.since is not None:
        found = found.where(Message.created_at >= query.since)
    if query.until is not None:
        found = found.where(Message.created_at < query.until)
    return found


def _number_owners(number: str) -> Select[tuple[int]]:
    """The customers whose application reference or complaint ticket is ``number`` (any case)."""
    wanted = number.upper()
    return select(Application.customer_id).where(func.upper(Application.reference) == wanted).union(
        select(Complaint.customer_id).where(func.upper(Complaint.ticket) == wanted))


def _conversations(session: Session, query: ConversationQuery) -> Select[tuple[Conversation]]:
    found = select(Conversation).join(Customer, Customer.id == Conversation.customer_id)
    if query.name.strip():
        pattern = contains_pattern(query.name.strip())
        found = found.where(or_(Customer.display_name.ilike(pattern, escape="\\"),
                                Customer.external_id.ilike(pattern, escape="\\")))
    if query.phone_digits:
        found = found.where(Customer.phone.like(contains_pattern(query.phone_digits), escape="\\"))
    if query.number.strip():
        found = found.where(Conversation.customer_id.in_(_number_owners(query.number.strip())))
    if query.channel:
        found = found.where(Conversation.channel == query.channel)
    if query.status:
        found = found.where(_status_filter(query.status))
    messages = _messages_in(session, query)
    if messages is not None:
        found = found.where(Conversation.id.in_(messages))
    return found.order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())


def _snippets(session: Session, ids: list[int], text: str) -> dict[int, str]:
    """Per conversation the first message containing ``text`` (no text: the latest message)."""
    chosen = select(Message.conversation_id, (func.min if text else func.max)(Message.id).label("id")).where(
        Message.conversation_id.in_(ids))
    if text:
        chosen = chosen.where(Message.id.in_(messages_containing(session, text)))
    picked = chosen.group_by(Message.conversation_id).subquery()
    rows = session.execute(select(Message.conversation_id, Message.text).join(picked, picked.c.id == Message.id))
    return {conversation_id: body for conversation_id, body in rows}


def _statuses(session: Session, ids: list[int]) -> dict[int, str]:
    """Per conversation its open handoff's status, else "closed" if it ever had one."""
    rows = session.execute(select(HandoffSession.conversation_id, HandoffSession.status)
                           .where(HandoffSession.conversation_id.in_(ids)).order_by(HandoffSession.id))
    statuses: dict[int, str] = {}
    for conversation_id, status in rows:
        if statuses.get(conversation_id) not in ("waiting", "active"):
            statuses[conversation_id] = status
    return statuses


def search_conversations(session: Session, query: ConversationQuery, limit: int = 50) -> list[ConversationHit]:
    """The newest ``limit`` conversations matching every filter of ``query`` (none: no results)."""
    if query.empty:
        return []
    conversations = list(session.scalars(_conversations(session, query).limit(limit)))
    ids = [c.id for c in conversations]
    snippets = _snippets(session, ids, query.text.strip())
    statuses = _statuses(session, ids)
    return [ConversationHit(c, c.customer, c.last_message_at, statuses.get(c.id, "none"), snippets.get(c.id, ""))
            for c in conversations]
