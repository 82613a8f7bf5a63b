"""What a handler sees and returns. Handlers are plain Python over storage and knowledge:
no platform library, no network. They return ``Reply`` objects; the engine stores them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.orm import Session

from handlers.i18n import t
from handlers.messages import Button, Incoming, Reply
from storage.models.base import INT_MAX

if TYPE_CHECKING:
    from handlers.services import Services
    from storage.models import Attachment, Conversation, Customer


@dataclass(frozen=True)
class Peek:
    """A text turn as the engine sees it before taking the conversation's lock: the cleaned text,
    the conversation's state and mode as last committed (None and "bot" for a new chat) and the
    language the turn will start in. A handler prepares slow read-only work from it."""

    text: str
    state: str | None
    mode: str
    lang: str


@dataclass
class Context:
    """One incoming message being handled, inside the engine's transaction."""

    session: Session
    incoming: Incoming
    customer: Customer
    conversation: Conversation
    services: Services
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    #: Replies the engine adds before the handler's (e.g. "your message was cut").
    notices: list[Reply] = field(default_factory=list)
    #: What handlers prepared from the turn's Peek before the transaction, by handler name.
    prepared: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.conversation.language or self.services.settings.default_language

    @property
    def state(self) -> str | None:
        return self.conversation.state

    @property
    def state_data(self) -> dict[str, Any]:
        return dict(self.conversation.state_data or {})

    def t(self, key: str, **kwargs: object) -> str:
        return t(key, self.lang, **kwargs)

    def set_state(self, state: str | None, data: dict[str, Any] | None = None) -> None:
        """Remember where this conversation is; it survives restarts and any worker can continue."""
        self.conversation.state = state
        self.conversation.state_data = dict(data or {})

    def clear_state(self) -> None:
        self.set_state(None, None)


class Handler:
    """One conversation capability. Return ``None`` from a method to say "not mine"."""

    #: Prefix of this handler's button payloads ("name:...") and states ("name:...").
    name: ClassVar[str] = ""
    #: Lower runs first among free-text intents.
    priority: ClassVar[int] = 100
    #: Intents that interrupt any running flow (commands, "talk to a person").
    interrupts: ClassVar[bool] = False

    def prepare(self, peek: Peek, services: Services) -> Any:
        """Slow read-only work for a text turn (asking the knowledge), done before the engine takes
        the conversation's lock and, on SQLite, the database's write lock; the result is handed
        back in ``ctx.prepared[name]``. It must not write, and must be checked against the turn
        (the state may have moved since). None: nothing prepared."""
        return None

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        return None

    def on_state(self, ctx: Context) -> list[Reply] | None:
        return None

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        return None


def row_id(text: str) -> int | None:
    """The row id a button payload names, or None for anything that is not one: a huge number from a
    forged button names no row (an ``integer`` column cannot hold it), and "²" or "٣" are digits to
    ``str.isdigit`` but no id."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= INT_MAX else None


def menu_buttons(lang: str) -> list[Button]:
    """The main menu. Each button names the handler that owns it; the engine answers
    honestly for a feature whose handler is not installed."""
    return [
        Button(t("menu.button.ask", lang), "menu:ask"),
        Button(t("menu.button.apply", lang), "application:start"),
        Button(t("menu.button.progress", lang), "progress:list"),
        Button(t("menu.button.rate", lang), "feedback:rate"),
        Button(t("menu.button.complain", lang), "complaint:start"),
        Button(t("menu.button.human", lang), "handoff:request"),
    ]
