"""The customer sees the bot typing (``sendChatAction``) before its answer, never after it, and
not in a chat an agent holds (the bot stays silent there); both databases."""
from __future__ import annotations

from sqlalchemy import update

from storage.models import Conversation


def actions_and_messages(api, chat_id: str = "42") -> list[str]:
    return [f"{method}:{params.get('action', '')}" for method, params in api.calls
            if method in ("sendChatAction", "sendMessage") and str(params.get("chat_id")) == chat_id]


async def test_the_bot_types_before_it_answers(tg):
    assert (await tg.post(tg.api.text_update("/start"))).status_code == 200
    await tg.settle()
    sent = actions_and_messages(tg.api)
    assert sent[0] == "sendChatAction:typing"
    assert sent[1:] and all(s == "sendMessage:" for s in sent[1:])  # the answer comes after, nothing typed after it


async def test_no_typing_while_an_agent_holds_the_chat(tg):
    await tg.post(tg.api.text_update("/start"))
    await tg.settle()
    with tg.db.session() as s:
        s.execute(update(Conversation).values(mode="human"))
    before = len(tg.api.calls)
    await tg.post(tg.api.text_update("还在吗"))
    await tg.settle()
    assert [m for m, _ in tg.api.calls[before:] if m == "sendChatAction"] == []


async def test_a_failed_chat_action_never_stops_the_answer(tg):
    tg.api.fail("sendChatAction", status=400, description="Bad Request: chat not found")
    await tg.post(tg.api.text_update("/start"))
    await tg.settle()
    assert tg.api.texts(42)  # answered all the same
