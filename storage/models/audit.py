"""The audit log: what staff did that is not a case event (logins, accounts, roles, API tokens,
knowledge edits, webhook subscriptions), with who, from where and when. Rows are only added."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AuditEntry(Base):
    """One staff action: ``actor`` (a username, ``api:<token>``, ``cli:<os user>``; None when
    nobody is known) did ``action`` to ``subject``; ``detail`` holds what changed (never a secret)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    address: Mapped[str | None] = mapped_column(String(64))
