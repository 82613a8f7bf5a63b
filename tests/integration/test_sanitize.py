"""A web chat button or text holding NUL or a lone surrogate is stored cleaned and answered, on both databases."""
from __future__ import annotations

import json
import secrets

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.web.app import create_app
from storage.models import Message
from storage.sanitize import clean_json, clean_text
from tests.testbot import build_runtime


@pytest.fixture
def client(settings):
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime, start_workers=False)) as c:
        c.runtime = runtime
        yield c
    runtime.services.db.dispose()


@pytest.mark.parametrize("body", [{"button": "menu:ask\u0000"}, {"button": "\u0000"}, {"text": "hi\u0000there"},
                                  {"button": "application:fix:\ud800"}, {"text": "\udfff\u0000"}])
def test_hostile_characters_in_web_chat_are_cleaned(client, body):
    raw = json.dumps({"session_id": secrets.token_hex(16), **body})  # json.dumps escapes \u0000 and \ud800
    response = client.post("/api/chat", content=raw, headers={"content-type": "application/json"})
    lone_surrogate = any("\ud800" <= ch <= "\udfff" for value in body.values() for ch in value)
    assert response.status_code == (422 if lone_surrogate else 200)  # a lone surrogate is not valid JSON text
    with client.runtime.services.db.session() as s:
        for message in s.scalars(select(Message)):
            assert "\x00" not in (message.text or "") + (message.button or "")


def test_clean_text_and_json():
    assert clean_text("a\x00b\ud800") == "ab\ufffd"
    assert clean_json({"k\x00": ["x\x00", 1, None]}) == {"k\\u0000": ["x\\u0000", 1, None]}
