"""NUL and lone surrogates in a Telegram update: recorded (escaped), answered, never a 500 (JSONB refused them)."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import InboxItem, Message


async def test_text_with_nul_is_recorded_and_answered(tg):
    response = await tg.post(tg.api.text_update("hello\u0000world"))
    assert response.status_code == 200
    await tg.settle()
    with tg.db.session() as s:
        item = s.scalars(select(InboxItem)).one()
        assert item.status == "done" and "hello\\u0000world" in item.payload["message"]["text"]
        text = s.scalars(select(Message).where(Message.direction == "in")).one().text
        assert "\x00" not in text and text.startswith("hello")
    assert tg.api.sent
