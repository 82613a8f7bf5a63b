"""The settings the desk's rules and dialogs read, as a typed protocol.

The settings themselves are loaded and checked by ``bot.config.Settings`` (wiring); the layers
below bot are handed that object and name here only what they read, so no arrow points up.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from domain.hours import WorkingHours


class DeskSettings(Protocol):
    default_language: str
    knowledge_dir: Path
    max_upload_bytes: int
    smtp_host: str | None
    rating_reminder_hours: float
    faq_unhelpful_min_votes: int
    complaint_received_hours: float
    complaint_assigned_hours: float
    complaint_investigating_hours: float
    complaint_resolved_hours: float
    complaint_follow_up_hours: float
    handoff_idle_minutes: float
    handoff_first_response_target_seconds: int
    handoff_handle_minutes: float

    @property
    def working_hours(self) -> WorkingHours: ...
