"""The terminal channel (``python -m bot chat``): buttons shown as numbered choices."""
from __future__ import annotations

import getpass
import sys
from typing import TextIO

from sqlalchemy import select

from bot.app import Runtime
from handlers.messages import Button, Incoming, Reply
from storage.models import OutboxItem, utcnow

CHANNEL = "terminal"


def render(reply: Reply) -> str:
    lines = [reply.text] if reply.text else []
    lines += [f"  [{i}] {button.label}" for i, button in enumerate(reply.buttons, 1)]
    lines += [f"  📎 {f.name}" + (f" {f.url}" if f.url else "") for f in reply.files]
    return "\n".join(lines)


class TerminalChat:
    """A read-eval-print loop over the engine; a number picks a button of the last reply."""

    def __init__(self, runtime: Runtime, chat_id: str | None = None, out: TextIO = sys.stdout) -> None:
        self.runtime = runtime
        self.chat_id = chat_id or f"{getpass.getuser()}"
        self.out = out
        self.buttons: list[Button] = []

    def to_incoming(self, line: str) -> Incoming:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return Incoming(CHANNEL, self.chat_id, self.chat_id, button=self.buttons[int(text) - 1].payload)
        return Incoming(CHANNEL, self.chat_id, self.chat_id, text=line)

    def say(self, line: str) -> None:
        """Send one line and print every reply waiting for this chat (the answer and any notices)."""
        self.runtime.engine.handle(self.to_incoming(line))
        self.flush()

    def flush(self) -> None:
        with self.runtime.services.db.session() as session:
            items = list(session.scalars(
                select(OutboxItem).where(OutboxItem.channel == CHANNEL, OutboxItem.chat_id == self.chat_id,
                                         OutboxItem.status == "pending").order_by(OutboxItem.id)
            ))
            for item in items:
                reply = Reply.from_dict(item.payload)
                print(render(reply), file=self.out, flush=True)
                if reply.buttons:
                    self.buttons = reply.buttons
                item.status, item.sent_at, item.attempts = "sent", utcnow(), item.attempts + 1

    def run(self, stdin: TextIO = sys.stdin) -> None:
        self.say("/start")
        while True:
            print("> ", end="", file=self.out, flush=True)
            line = stdin.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            self.say(line.rstrip("\n"))
