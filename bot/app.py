"""Wiring: settings -> database -> services -> engine -> channels and background workers."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import Channel
from bot.channels.registry import build_channels
from bot.config import Settings
from bot.engine import Engine
from bot.inbox import InboxWorker
from bot.jobs import KV_PURGE_JOB, JobFunction, JobRunner, purge_expired_kv, schedule_kv_purge
from bot.outbox import OutboxSender
from bot.webhooks import WebhookSender
from domain.catalogue import ServiceCatalog
from domain.events import EventBus
from handlers import all_handlers
from handlers.faq import next_suggestions
from handlers.notices import build_bus
from handlers.services import Services
from storage.attachments import AttachmentStore
from storage.db import Database

log = logging.getLogger(__name__)


def build_services(settings: Settings, migrate: bool = True, knowledge: Any = None) -> Services:
    """The services for these settings; ``knowledge`` replaces the settings' knowledge runtime
    (tests hand in a small stand-in so no embedding model loads)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    if migrate:
        db.upgrade()

    if knowledge is None:
        from knowledge.runtime import from_settings  # faiss and the models load only here

        knowledge = from_settings(settings)
    services = Services(
        settings=settings,
        db=db,
        attachments=AttachmentStore(settings.data_dir / "attachments", settings.max_upload_bytes),
        events=EventBus(),
        catalogue=ServiceCatalog(settings.knowledge_dir / "services", settings.max_upload_bytes / (1024 * 1024)),
        knowledge=knowledge,
        faq_suggestions=next_suggestions,
    )
    services.events = build_bus(services)
    return services


def job_functions() -> dict[str, JobFunction]:
    """Every kind of timed job the features define."""
    from bot.email import send_email_job
    from domain import complaints, handoff, ratings
    from domain.applications import DEADLINE_JOB, DRAFT_EXPIRY_JOB, deadline_job, draft_expiry_job
    from handlers.notices.delivery import EMAIL_JOB

    return {
        EMAIL_JOB: send_email_job,
        complaints.JOB_DEADLINE: complaints.run_deadline,
        ratings.JOB_REMINDER: ratings.run_reminder,
        DEADLINE_JOB: deadline_job,
        DRAFT_EXPIRY_JOB: draft_expiry_job,
        handoff.IDLE_JOB: handoff.run_idle,
        KV_PURGE_JOB: purge_expired_kv,
    }


@dataclass
class Runtime:
    """Everything a running server holds; started and stopped as one."""

    services: Services
    engine: Engine
    channels: dict[str, Channel] = field(default_factory=dict)
    outbox: OutboxSender | None = None
    inbox: InboxWorker | None = None
    jobs: JobRunner | None = None
    webhooks: WebhookSender | None = None

    @classmethod
    def build(cls, settings: Settings, channels: dict[str, Channel] | None = None,
              kinds: list[str] | None = None, knowledge: Any = None) -> "Runtime":
        """Wire everything from the settings (or the channel ``kinds`` named, e.g. the terminal);
        tests pass their own (fake-backed) channels and knowledge."""
        services = build_services(settings, knowledge=knowledge)
        engine = Engine(services, all_handlers())
        if channels is None:
            channels = build_channels(settings, services, kinds)
        runtime = cls(services, engine, channels)
        runtime.outbox = OutboxSender(services.db, channels, settings.outbox_max_attempts, settings.outbox_poll_seconds)
        runtime.inbox = InboxWorker(services.db, engine, channels, settings.outbox_poll_seconds)
        functions = job_functions()
        for channel in channels.values():
            functions.update(channel.job_functions())
        runtime.jobs = JobRunner(services, functions, settings.jobs_poll_seconds)
        runtime.webhooks = WebhookSender(services.db, settings.webhook_max_attempts, settings.webhook_timeout_seconds,
                                         settings.outbox_poll_seconds)
        services.wake_outbox = runtime.outbox.wake
        services.wake_inbox = runtime.inbox.wake
        return runtime

    async def start(self) -> None:
        assert self.outbox and self.inbox and self.jobs and self.webhooks
        await asyncio.to_thread(schedule_kv_purge, self.services.db)
        await self.outbox.start()
        await self.inbox.start()
        await self.jobs.start()
        await self.webhooks.start()
        for channel in self.channels.values():
            await channel.start()
        if self.services.knowledge and self.services.settings.knowledge_watch:
            self.services.knowledge.start_watching()
        log.info("started: channels=%s database=%s", ",".join(self.channels) or "web",
                 self.services.db.url.get_backend_name())

    async def stop(self) -> None:
        if self.services.knowledge:
            self.services.knowledge.stop()
        for channel in self.channels.values():
            await channel.stop()
        for worker in (self.webhooks, self.jobs, self.inbox, self.outbox):
            if worker:
                await worker.stop()
        self.services.db.dispose()
