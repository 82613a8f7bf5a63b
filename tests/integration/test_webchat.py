"""The web chat JSON API and page over HTTP (the conventions in DESIGN.md)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import Runtime
from bot.web.app import create_app
from handlers.messages import Reply
from handlers.notices.delivery import notify_customer
from storage.models import Customer

pytestmark = pytest.mark.slow  # the full runtime over HTTP: the real embedding models

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def client(settings):
    runtime = Runtime.build(settings.model_copy(update={"rate_limit_per_minute": 20, "max_upload_bytes": 2048}),
                            channels={})
    with TestClient(create_app(runtime, start_workers=False)) as c:
        c.runtime = runtime
        yield c


def test_text_gets_replies_with_buttons(client):
    body = client.post("/api/chat", json={"session_id": "visitor-0001", "text": "/start"}).json()
    reply = body["replies"][0]
    assert reply["text"] and {"label", "payload"} <= set(reply["buttons"][0])


def test_button_press(client):
    body = client.post("/api/chat", json={"session_id": "visitor-0001", "button": "lang:en"}).json()
    assert body["replies"][0]["text"] == "Switched to English."


def test_errors_are_json_with_4xx(client):
    for payload in ({"session_id": "x", "text": "hi"}, {"session_id": "visitor-0001"}, {"text": "hi"}):
        response = client.post("/api/chat", json=payload)
        assert 400 <= response.status_code < 500 and response.json()["error"]
    response = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()


def test_oversized_body_is_413(client):
    response = client.post("/api/chat", json={"session_id": "visitor-0001", "text": "x" * 200_000})
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_rate_limit_is_429_with_a_clear_body(client):
    codes = [client.post("/api/chat", json={"session_id": "visitor-0002", "text": "hi"}).status_code
             for _ in range(21)]
    assert codes[:20] == [200] * 20 and codes[20] == 429
    assert "wait" in client.post("/api/chat", json={"session_id": "visitor-0002", "text": "hi"}).json()["error"]


def test_upload_is_stored_and_oversize_refused(client):
    ok = client.post("/api/chat/upload", data={"session_id": "visitor-0003"}, files={"file": ("id.png", PNG)})
    assert ok.status_code == 200 and "id.png" in ok.json()["replies"][0]["text"]
    stored = list((client.runtime.services.settings.data_dir / "attachments").rglob("*"))
    assert any(p.is_file() for p in stored)
    big = client.post("/api/chat/upload", data={"session_id": "visitor-0003"},
                      files={"file": ("big.png", PNG + b"\x00" * 5000)})
    assert big.status_code == 413 and big.json()["error"]


def test_later_messages_arrive_by_polling_once(client):
    first = client.post("/api/chat", json={"session_id": "visitor-0004", "text": "hello"}).json()
    last_id = first["replies"][-1]["id"]
    assert client.get("/api/chat/messages", params={"session_id": "visitor-0004", "after": last_id}).json() == {
        "messages": [], "typing": False}
    services = client.runtime.services
    with services.db.session() as s:
        customer = s.scalars(select(Customer).where(Customer.external_id == "visitor-0004")).one()
        assert notify_customer(s, services, customer, "status", Reply("Your application was approved.")) == ["chat"]
    polled = client.get("/api/chat/messages", params={"session_id": "visitor-0004", "after": last_id}).json()
    assert [m["text"] for m in polled["messages"]] == ["Your application was approved."]


def test_page_and_health(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/chat.js" in page.text
    assert client.get("/static/chat.js").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_unknown_paths_and_broken_json_answer_in_the_error_shape(client):
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    broken = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json() == {"error": "the request body is not valid JSON"}
    undecodable = client.post("/api/chat", content=b"\xff{", headers={"content-type": "application/json"})
    assert undecodable.status_code == 400 and undecodable.json()["error"]
