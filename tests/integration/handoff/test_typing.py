"""An agent typing in the console: the web chat shows "正在输入" while they do, never once the
reply is queued; a signal arriving just after the reply, or from someone else's conversation, is
dropped. Both databases."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from handoff_helpers import PASSWORD, make_runtime, staff
from sqlalchemy import select

from bot.web.app import create_app
from domain import handoff
from storage.models import HandoffSession, StaffUser
from tests.console_helpers import console_login, csrf_of

SESSION = "typing-session-1-8e2c6a4f0b9d7153"


@pytest.fixture
def rt(settings, tmp_path):
    runtime = make_runtime(settings, knowledge_dir=tmp_path / "kb")
    yield runtime
    runtime.services.db.dispose()


def agent_client(rt, username: str) -> TestClient:
    client = TestClient(create_app(rt, start_workers=False))
    assert console_login(client, username, PASSWORD).status_code == 303
    return client


def typing(client: TestClient, handoff_id: int, conversation_id: int) -> bool:
    page = client.get(f"/console/conversations/{conversation_id}").text
    response = client.post(f"/console/api/handoffs/{handoff_id}/typing", headers={"X-CSRF-Token": csrf_of(page)})
    assert response.status_code == 200
    return response.json()["shown"]


def test_the_web_chat_sees_the_agent_typing_until_the_reply(rt):
    alice, _ = staff(rt, "alice"), staff(rt, "bob")
    chat = TestClient(create_app(rt, start_workers=False))
    chat.post("/api/chat", json={"session_id": SESSION, "text": "人工"})
    with rt.services.db.session() as s:
        h = s.scalars(select(HandoffSession)).one()
        handoff.claim(s, rt.services, h.id, s.get(StaffUser, alice.id))
        h_id, conversation_id = h.id, h.conversation_id
    poll = lambda: chat.get("/api/chat/messages", params={"session_id": SESSION, "after": 0}).json()  # noqa: E731
    assert poll()["typing"] is False

    alice_console = agent_client(rt, "alice")
    page = alice_console.get(f"/console/conversations/{conversation_id}").text
    assert re.search(rf'data-typing="/console/api/handoffs/{h_id}/typing"', page)  # the page signals
    assert typing(agent_client(rt, "bob"), h_id, conversation_id) is False  # not bob's conversation
    assert poll()["typing"] is False
    assert typing(alice_console, h_id, conversation_id) is True
    assert poll()["typing"] is True

    with rt.services.db.session() as s:
        handoff.reply(s, rt.services, h_id, s.get(StaffUser, alice.id), "您好，我来帮您。")
    after_reply = poll()
    assert after_reply["typing"] is False
    assert any(m["text"] == "您好，我来帮您。" for m in after_reply["messages"])
    assert typing(alice_console, h_id, conversation_id) is False  # late: it was on its way with the reply
    assert poll()["typing"] is False


def test_the_chat_page_has_the_typing_indicator(rt):
    page = TestClient(create_app(rt, start_workers=False)).get("/").text
    assert '<p id="typing" hidden' in page and "正在输入" in page
