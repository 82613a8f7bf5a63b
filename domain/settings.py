"""What the domain is handed, as typed protocols: the settings it reads and the services it uses.

The settings themselves are loaded and checked by ``bot.config.Settings`` (wiring), and the
container is ``handlers.services.Services``; the domain names here only what it reads, so no
arrow points up.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from domain.catalogue import ServiceCatalog
from domain.events import EventBus
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
    retention_keep_stages: str
    retention_keep_days: int
    handoff_idle_minutes: float
    handoff_first_response_target_seconds: int
    handoff_handle_minutes: float
    handoff_auto_assign: bool
    handoff_agent_limit: int
    check_code_max_failures: int
    check_code_address_max_failures: int
    check_code_lockout_minutes: int

    @property
    def working_hours(self) -> WorkingHours: ...


class DeskServices(Protocol):
    """The dependencies of a domain rule: settings, the event bus, the service catalogue."""

    @property
    def settings(self) -> DeskSettings: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def catalogue(self) -> ServiceCatalog:
        """The service definitions and the calendar in force (reloaded when their files change)."""
        ...
