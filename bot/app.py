"""Wiring: settings -> database -> services -> engine -> channels and background workers."""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import Channel
from bot.channels.registry import build_channels
from bot.config import Settings
from bot.engine import Engine
from bot.inbox import InboxWorker
from bot.jobs import KV_PURGE_JOB, JobFunction, JobRunner, purge_expired_kv, schedule_kv_purge
from bot.metrics import forget_process
from bot.outbox import OutboxSender
from bot.webhooks import WebhookSender
from domain.catalogue import ServiceCatalog
from domain.events import EventBus
from handlers import all_handlers
from handlers.faq import next_suggestions
from handlers.notices import build_bus
from handlers.services import Services
from speech import Recognizer
from speech import from_settings as speech_from_settings
from storage.attachments import AttachmentStore
from storage.db import OUTBOX_CHANNEL, Database, Listener

log = logging.getLogger(__name__)


def build_services(settings: Settings, migrate: bool = True, knowledge: Any = None, answers: bool = True) -> Services:
    """The services for these settings; ``knowledge`` replaces the settings' knowledge runtime
    (tests hand in a small stand-in so no embedding model loads)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    if migrate:
        db.upgrade()

    if knowledge is None and answers:  # a command that answers no question loads no model
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
        handoff.BALANCE_JOB: handoff.run_balance,
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
    #: PostgreSQL: wakes this worker's outbox sender when any worker queues a reply.
    listener: Listener | None = None
    webhooks: WebhookSender | None = None

    @classmethod
    def build(cls, settings: Settings, channels: dict[str, Channel] | None = None,
              kinds: list[str] | None = None, knowledge: Any = None, migrate: bool = True,
              speech: Recognizer | None = None) -> "Runtime":
        """Wire everything from the settings (or the channel ``kinds`` named, e.g. the terminal);
        tests pass their own (fake-backed) channels, knowledge and speech recognizer;
        ``migrate=False`` when the parent of several workers has migrated already."""
        services = build_services(settings, migrate=migrate, knowledge=knowledge)
        if speech is None:
            speech = speech_from_settings(settings.speech_backend, settings.speech_model_path,
                                          settings.speech_max_seconds, settings.speech_threads)
        engine = Engine(services, all_handlers(), speech)
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
        runtime.listener = services.db.listener(OUTBOX_CHANNEL, runtime.outbox.wake)
        return runtime

    async def start(self) -> None:
        assert self.outbox and self.inbox and self.jobs and self.webhooks
        await asyncio.to_thread(schedule_kv_purge, self.services.db)
        await self.outbox.start()
        if self.listener is not None:
            self.listener.start()
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
        """Graceful: the workers finish what they hold (sends in flight too) and hand back what
        they claimed but did not begin; the channels close after the last send."""
        if self.services.knowledge:
            self.services.knowledge.stop()
        if self.listener is not None:
            await asyncio.to_thread(self.listener.stop)
        grace = self.services.settings.shutdown_grace_seconds
        workers = [worker for worker in (self.webhooks, self.jobs, self.inbox, self.outbox) if worker]
        await asyncio.gather(*(worker.stop(grace) for worker in workers))
        for channel in self.channels.values():
            await channel.stop()
        self.services.db.dispose()
        forget_process(os.getpid())

    def readiness(self) -> dict[str, str]:
        """What ``/readyz`` reports: ``ok`` for each check, or what is wrong."""
        missing = self.services.db.missing_migrations()
        knowledge = self.services.knowledge
        stopped = [w.name for w in (self.outbox, self.inbox, self.jobs, self.webhooks) if w is None or not w.alive]
        return {
            "migrations": f"not applied: {', '.join(sorted(missing))}" if missing else "ok",
            "knowledge": "ok" if knowledge is not None and knowledge.entries else "not loaded",
            "workers": f"not running: {', '.join(stopped)}" if stopped else "ok",
        }
