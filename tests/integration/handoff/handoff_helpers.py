"""Helpers shared by the handoff tests."""
from __future__ import annotations

from functools import lru_cache

from bot.app import Runtime
from bot.config import Settings
from bot.engine import HandleResult
from domain.staff import hash_password
from storage.models import StaffUser
from tests.testbot import Customer, build_runtime


def make_runtime(settings: Settings, **overrides: object) -> Runtime:
    """Staff always at work unless the test says otherwise; stand-in knowledge (tests/testbot.py)."""
    values = {"handoff_hours": "always", **overrides}
    return build_runtime(settings.model_copy(update=values))


PASSWORD = "password-123"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """Hashed once: argon2 is slow on purpose, and the tests make many accounts."""
    return hash_password(PASSWORD)


def staff(runtime: Runtime, username: str, role: str = "agent", on_duty: bool = True) -> StaffUser:
    with runtime.services.db.session() as s:
        user = StaffUser(username=username, display_name=username.title(), password_hash=password_hash(),
                         role=role, on_duty=on_duty)
        s.add(user)
        s.flush()
        return user


def say(runtime: Runtime, text: str = "", chat: str = "c1", **kw: object) -> HandleResult:
    """One message from customer ``chat`` (the TestBot's ``Customer``), the engine's whole result."""
    return Customer(runtime, chat).handle(text, **kw)
