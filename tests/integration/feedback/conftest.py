"""Helpers for the ratings and complaints tests: talk to the engine as a customer (tests/testbot.py)."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.app import Runtime
from domain.staff import add_staff
from handlers.messages import IncomingFile, Reply
from storage.models import Conversation, StaffUser
from tests.testbot import Customer, last_outbox_id  # noqa: F401  (the feedback tests import it from here)

#: A tiny valid PNG, accepted by the attachment store's content check.
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

Say = Callable[..., list[Reply]]


@pytest.fixture
def say(runtime: Runtime) -> Callable[[str], Say]:
    """``say("alice")("text")`` or ``say("alice")(button="x:y")``: one customer message, its replies."""

    def customer(name: str) -> Say:
        def send(text: str = "", button: str | None = None, png: bool = False) -> list[Reply]:
            files = [IncomingFile(data=PNG, name="evidence.png")] if png else []
            return customer_of(runtime, name).send(text, button, files)

        return send

    return customer


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def customer_of(runtime: Runtime, name: str) -> Customer:
    """The TestBot's ``Customer`` for one named customer of these tests."""
    return Customer(runtime, f"chat-{name}", f"user-{name}")


def outbox_texts(runtime: Runtime, name: str, after: int = 0) -> list[str]:
    return customer_of(runtime, name).outbox_texts(after)


def conversation_of(runtime: Runtime, name: str) -> int:
    with runtime.services.db.session() as s:
        return s.scalars(select(Conversation.id).where(Conversation.chat_id == f"chat-{name}")).one()


@pytest.fixture
def staff(runtime: Runtime) -> dict[str, int]:
    """An agent and a supervisor; their ids by username."""
    with runtime.services.db.session() as s:
        add_staff(s, "agent1", "password123", "agent", "Agent One")
        add_staff(s, "boss", "password123", "supervisor", "The Boss")
        return {u.username: u.id for u in s.scalars(select(StaffUser))}
