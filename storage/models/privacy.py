"""What was done with a person's data at their or an authority's request: exports and erasures,
with who and why.

Kept small on purpose: a general audit log is being added elsewhere; this table is the privacy
features' own record until it lands, and can be copied into it. ``customer_ids`` are plain
values, no foreign keys: the record outlives an erased customer.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, utcnow


class CustomerDataRequest(Base):
    """One export or erasure of everything held about one person."""

    __tablename__ = "customer_data_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # export | erasure
    identity: Mapped[str] = mapped_column(String(200))  # CHANNEL:EXTERNAL_ID as asked
    customer_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    actor: Mapped[str] = mapped_column(String(200))  # "cli:<os user>", "api:<token name>", ...
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ErasureRequest(Base):
    """A customer's request, made in chat, to delete their data: staff approve it (the erasure
    runs, recorded as a ``CustomerDataRequest``) or reject it with a reason; the customer is told
    either way. ``identity`` is replaced by the erased identity's token when the erasure runs."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(200))  # CHANNEL:EXTERNAL_ID of who asked
    customer_id: Mapped[int]  # plain: the request outlives the erased customer's data
    conversation_id: Mapped[int]  # the chat asked from: where the outcome is told
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | erased | rejected
    decided_by: Mapped[str | None] = mapped_column(String(200))  # "console:<username>"
    decision_reason: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[int | None]  # the erasure's CustomerDataRequest
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    decided_at: Mapped[datetime | None]
