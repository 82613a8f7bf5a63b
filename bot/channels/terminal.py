"""The terminal channel (``python -m bot chat``): buttons shown as numbered choices.

Replies go through the outbox like every channel's: the chat loop hands a line to the engine,
then lets the outbox sender drain, and the sender prints through ``TerminalChannel.send``.
"""
from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from bot.channels.base import Channel
from bot.channels.registry import ChannelKind
from bot.channels.toolkit import NumberedButtons, SentParts, numbered_lines
from bot.config import Settings
from handlers.messages import Incoming, Reply
from handlers.services import Services
from storage.db import Database

CHANNEL = "terminal"


def render(reply: Reply) -> str:
    lines = [reply.text] if reply.text else []
    lines += numbered_lines(reply.buttons, "  [{number}] {label}")
    lines += [f"  📎 {f.name}" + (f" {f.url}" if f.url else "") for f in reply.files]
    return "\n".join(lines)


class TerminalChannel(Channel):
    """Prints replies; a typed number picks a button of the last reply printed in that chat."""

    name = CHANNEL

    def __init__(self, db: Database, out: TextIO = sys.stdout) -> None:
        self.numbers = NumberedButtons(db, CHANNEL)
        self.out = out

    def incoming(self, chat_id: str, line: str) -> Incoming:
        payload = self.numbers.payload_of(chat_id, line)
        if payload is not None:
            return Incoming(CHANNEL, chat_id, chat_id, button=payload)
        return Incoming(CHANNEL, chat_id, chat_id, text=line)

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        print(render(reply), file=self.out, flush=True)
        await asyncio.to_thread(self.numbers.remember, chat_id, reply.buttons)
        return None


class TerminalChat:
    """A read-eval-print loop: each line to the engine (``handle``), then every reply waiting
    (the answer and any notices) out through the outbox (``drain``, one pass of the sender)."""

    def __init__(self, channel: TerminalChannel, handle: Callable[[Incoming], Any],
                 drain: Callable[[], Awaitable[int]], chat_id: str | None = None) -> None:
        self.channel = channel
        self.handle = handle
        self.drain = drain
        self.chat_id = chat_id or getpass.getuser()

    def say(self, line: str) -> None:
        self.handle(self.channel.incoming(self.chat_id, line))
        asyncio.run(self._drain_all())

    async def _drain_all(self) -> None:
        while await self.drain():
            pass

    def run(self, stdin: TextIO = sys.stdin) -> None:
        self.say("/start")
        while True:
            print("> ", end="", file=self.channel.out, flush=True)
            line = stdin.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            self.say(line.rstrip("\n"))


def build_terminal_channels(settings: Settings, services: Services) -> dict[str, Channel]:
    return {CHANNEL: TerminalChannel(services.db)}


#: Only for ``python -m bot chat``; a server never builds it.
KIND = ChannelKind(CHANNEL, lambda settings: True, build_terminal_channels, on_demand=True)
