"""Every endpoint that reads a JSON body (web chat, REST API) refuses one too deep (400) or too big (413)."""

from __future__ import annotations

import json
import secrets

import pytest

from bot.jsonbody import JSON_BODY_LIMIT, MAX_DEPTH, nesting_depth
from tests.console_helpers import admin_api_client

DEEP = '{"session_id": "x", "text": ' + "[" * 50_000 + "]" * 50_000 + "}"
JSON = {"content-type": "application/json"}


@pytest.fixture
def client(sqlite_settings):
    with admin_api_client(sqlite_settings) as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/api/chat", "/api/v1/webhooks", "/api/v1/applications/A-1/transitions", "/api/v1/complaints/1/assign"]
)
def test_50000_levels_answer_400_on_every_json_endpoint(client, path):
    answer = client.post(path, content=DEEP, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == f"the JSON body nests 50001 levels deep; the limit is {MAX_DEPTH}"


def test_an_oversize_chat_body_answers_413(client):
    body = {"session_id": secrets.token_hex(16), "text": "x", "padding": "y" * JSON_BODY_LIMIT}
    answer = client.post("/api/chat", json=body)
    assert answer.status_code == 413
    assert answer.json()["error"] == f"the JSON body is larger than the limit of {JSON_BODY_LIMIT} bytes"


def test_a_body_within_the_limits_is_handled(client):
    answer = client.post("/api/chat", json={"session_id": secrets.token_hex(16), "text": "你好"})
    assert answer.status_code == 200 and answer.json()["replies"]


def test_nesting_depth_ignores_brackets_in_strings_and_escaped_quotes():
    assert nesting_depth(b'{"a": "[[[[\\"{{{{", "b": [[1]]}') == 3
    assert nesting_depth(b"") == 0
    assert nesting_depth(b'"never ends [[[[') == 0
    assert nesting_depth(b'[[],[[{"a": [1, {}]}]]]') == 6
    assert nesting_depth(b"[" * 50_000 + b"]" * 50_000) == 50_000
    assert nesting_depth(b"{" * 10) == 10


def test_a_20000_character_text_escaped_to_ascii_fits(client):
    body = json.dumps({"session_id": secrets.token_hex(16), "text": "😀" * 10_000}, ensure_ascii=True)
    answer = client.post("/api/chat", content=body, headers=JSON)
    assert answer.status_code == 200, answer.text
