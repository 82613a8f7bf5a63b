"""Security bookkeeping shared by every worker: counters behind the limits and lockouts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class LimitCounter(Base):
    """Hits of one key (a login name, an address, a reference) in the window that began at
    ``window_start``, and until when the key is locked; one row per key, updated atomically."""

    __tablename__ = "limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]
