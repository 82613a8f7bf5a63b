"""Integers past what a column holds answer 422, never 500 (PostgreSQL's integer overflowed), on both databases."""
from __future__ import annotations

import secrets

import pytest

from tests.console_helpers import admin_api_client
from tests.testbot import Customer, build_runtime

HUGE = ["2147483648", str(2**63), "1e30", str(10**20), "-1"]


@pytest.fixture
def client(settings):
    with admin_api_client(settings) as c:
        yield c


@pytest.mark.parametrize("value", HUGE)
def test_huge_integers_are_refused_with_4xx(client, value):
    session_id = secrets.token_hex(16)
    answers = [client.get("/api/chat/messages", params={"session_id": session_id, "after": value}),
               client.post(f"/api/v1/outbox/{value}/retry"),
               client.get("/api/v1/applications", params={"offset": value}),
               client.get("/api/v1/complaints", params={"offset": value})]
    for answer in answers:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.status_code, answer.text)


@pytest.mark.parametrize("payload", ["application:fix:99999999999999999999", "application:fix:²",
                                     "application:fix:0", "faq:pick:99999999999:x", "faq:none:٣",
                                     "feedback:score:99999999999:5", "feedback:score:1:²",
                                     "feedback:faq:up:99999999999:x"])
def test_forged_button_ids_answer_honestly(settings, payload):
    """A button payload is client-controlled: a huge, zero or non-ASCII id is "not found", never an error."""
    runtime = build_runtime(settings)
    try:
        replies = Customer(runtime, "forger").press(payload)
        assert replies and all(replies)
    finally:
        runtime.services.db.dispose()
