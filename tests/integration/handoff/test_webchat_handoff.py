"""A web chat customer reaches a person and receives the agent's words by polling."""
from __future__ import annotations

from fastapi.testclient import TestClient
from handoff_helpers import staff

from bot.web.app import create_app
from domain import handoff


def test_web_customer_gets_the_agents_answer(rt):
    agent = staff(rt, "alice")
    client = TestClient(create_app(rt, start_workers=False))
    sid = "customer-0001-5e8a1c3f9b7d20463ac9"
    client.post("/api/chat", json={"session_id": sid, "text": "营业时间是几点"})
    queued = client.post("/api/chat", json={"session_id": sid, "button": "handoff:request"}).json()["replies"]
    assert "第 1 位" in queued[0]["text"]
    assert client.post("/api/chat", json={"session_id": sid, "text": "还在吗"}).json() == {"replies": []}
    after = max(r["id"] for r in queued)

    with rt.services.db.session() as s:
        [waiting] = handoff.waiting(s)
        assert waiting.question == "营业时间是几点"
        handoff.claim(s, rt.services, waiting.id, agent)
        handoff.reply(s, rt.services, waiting.id, agent, "工作日 9:00-17:00。")
    texts = [m["text"] for m in client.get("/api/chat/messages", params={"session_id": sid, "after": after})
             .json()["messages"]]
    assert texts == ["客服 Alice 已接入，正在为您服务。", "工作日 9:00-17:00。"]
