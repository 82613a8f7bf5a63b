"""What handlers and the web layer reach through ``ctx.services``: one object, built at start."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from domain.catalogue import ServiceCatalog
from domain.events import EventBus
from domain.handoff.ports import PlatformTransfer
from domain.settings import DeskSettings
from storage.attachments import AttachmentStore
from storage.db import Database

if TYPE_CHECKING:
    from handlers.messages import Button
    from knowledge import KnowledgeRuntime


@dataclass(frozen=True)
class StaffRoom:
    """A group where staff work besides the console, a thread per customer (handlers/staff_room.py)."""

    #: The outbox channel that carries the room's posts (a channel of the room's platform).
    channel: str
    #: The room's id on its platform (the Telegram staff group's chat id).
    room: str
    #: Whose user ids link staff accounts (``StaffLink.platform``).
    platform: str


@dataclass
class Services:
    settings: DeskSettings
    db: Database
    attachments: AttachmentStore
    #: Domain events and their listeners (handlers/notices): built once by the wiring.
    events: EventBus
    #: The service definitions and calendar (BOT_KNOWLEDGE_DIR/services), reloaded when a file changes.
    catalogue: ServiceCatalog
    #: The FAQ retriever, or None when the knowledge package is not wired (unit tests).
    knowledge: "KnowledgeRuntime | None" = None
    #: After "not helpful": the FAQ's next suggestions ``(ctx, entry_id, question_log_id) -> buttons``
    #: (buttons the FAQ handles itself; ``ctx`` is the handler Context); None offers none.
    faq_suggestions: "Callable[[Any, str, int | None], list[Button]] | None" = None
    #: Called after a transaction queued replies, so the outbox sender drains at once.
    wake_outbox: Callable[[], None] = lambda: None
    #: Called after a polling channel recorded deliveries, so the inbox worker handles them at once.
    wake_inbox: Callable[[], None] = lambda: None
    #: Channel name -> its platform's handoff session sync (WeCom kf); none unless a channel sets one.
    platform_transfers: dict[str, PlatformTransfer] = field(default_factory=dict)
    #: The staff room a channel offers (BOT_TELEGRAM_STAFF_CHAT_ID); None: staff work in the console only.
    staff_room: StaffRoom | None = None
