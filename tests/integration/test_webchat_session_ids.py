"""Web chat session ids must carry at least 128 bits: a short or patterned id is refused with a clear 400."""
from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from bot.web.app import create_app
from tests.testbot import build_runtime

GUESSABLE = ["visitor1", "visitor-0001", "a" * 40, "0123456789" * 2, "abababababababababababababababab",
             "x" * 200, "short-but-random-9f3c", "has space in it 0123456789abcdef"]


@pytest.fixture
def client(sqlite_settings):
    with TestClient(create_app(build_runtime(sqlite_settings), start_workers=False)) as c:
        yield c


@pytest.mark.parametrize("session_id", GUESSABLE)
def test_guessable_session_ids_are_refused_everywhere(client, session_id):
    answers = [client.post("/api/chat", json={"session_id": session_id, "text": "hi"}),
               client.get("/api/chat/messages", params={"session_id": session_id}),
               client.post("/api/chat/upload", data={"session_id": session_id}, files={"file": ("a.txt", b"x")})]
    for answer in answers:
        assert answer.status_code == 400 and "128 bits" in answer.json()["error"]


def test_the_pages_ids_are_accepted(client):
    page_id = secrets.token_bytes(16).hex()  # what chat.js makes with crypto.getRandomValues
    assert client.post("/api/chat", json={"session_id": page_id, "text": "/start"}).status_code == 200
    assert client.get("/api/chat/messages", params={"session_id": page_id}).status_code == 200
