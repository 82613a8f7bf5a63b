"""The small interface every platform implements (after Rasa's Input/OutputChannel).

A channel parses its platform's deliveries into ``Incoming`` and renders ``Reply``
objects back. It knows no business rule: the engine and handlers decide.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from bot.channels.toolkit import SentParts
from handlers.messages import Incoming, Reply, StaffIncoming


class SendError(Exception):
    """A send that did not go through."""


class TemporarySendError(SendError):
    """Try again later (network down, 5xx, rate limit). ``retry_after`` in seconds if the platform said."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Retrying cannot help (chat blocked the bot, bad request): mark the reply failed at once."""


class DeferredSendError(SendError):
    """The platform may not take this message now (e.g. a closed reply window); send it after the
    customer's next message, which resets the wait."""


if TYPE_CHECKING:
    from bot.jobs import JobFunction


class UnparseableDelivery(ValueError):
    """Raised by ``Channel.parse`` for a delivery no retry can parse: the inbox keeps it as
    ``unparseable`` for inspection and the chat goes on at once."""


class Channel(ABC):
    """A platform adapter."""

    #: Short stable name stored with every customer, conversation and outbox row.
    name: str = ""

    #: False for a channel whose client fetches its replies itself (the web chat page): the
    #: outbox sender leaves its rows alone.
    pushes: bool = True

    @abstractmethod
    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        """Deliver one reply; return the platform's message id if it has one.

        A reply the platform takes in several messages starts at ``sent.done`` and marks each part
        sent (``sent`` is the outbox row's memory; None: nothing sent yet, nothing to remember).
        Raise ``TemporarySendError``, ``PermanentSendError`` or ``DeferredSendError``.
        """

    async def send_row(self, chat_id: str, payload: dict[str, Any], sent: SentParts | None = None) -> str | None:
        """Deliver one outbox row's payload. A customer's channel sends it as the ``Reply`` it is; a
        channel whose rows carry more than a reply (the staff room's topic changes) reads it all."""
        return await self.send(chat_id, Reply.from_dict(payload), sent)

    async def parse(self, payload: dict[str, Any]) -> list[Incoming | StaffIncoming]:
        """Turn a recorded delivery (the inbox row's payload) into messages for the engine (a
        channel that offers a staff room parses its staff's messages as ``StaffIncoming``)."""
        raise NotImplementedError(f"{type(self).__name__} receives synchronously and records no deliveries")

    async def show_typing(self, chat_id: str) -> None:
        """The customer sees that a reply is being prepared. Best effort: a failure is logged by the
        channel, never raised; default: the platform has no such signal (or the page asks itself)."""

    def job_functions(self) -> dict[str, "JobFunction"]:
        """Timed work this channel does (kind -> function), run by the job runner like the features'."""
        return {}

    async def start(self) -> None:
        """Begin receiving (polling loops); called once when the server starts."""

    async def stop(self) -> None:
        """Stop receiving and release connections."""
