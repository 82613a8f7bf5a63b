"""The Telegram webhook parses its body with a depth and a size limit (before: 500, RecursionError at 50,000 levels)."""

from __future__ import annotations

import json

from fake_bot_api import SECRET
from sqlalchemy import func, select

from bot.jsonbody import MAX_DEPTH, WEBHOOK_JSON_LIMIT
from storage.models import InboxItem

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}


async def test_50000_levels_answer_400_and_record_nothing(tg):
    body = '{"update_id": 1, "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    answer = await tg.client.post("/telegram/webhook", content=body, headers=HEADERS)
    assert answer.status_code == 400
    assert answer.json()["error"] == f"the JSON body nests 50001 levels deep; the limit is {MAX_DEPTH}"
    with tg.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 0


async def test_deep_nesting_without_a_content_type_is_refused_too(tg):
    body = "[" * 50_000 + "]" * 50_000
    answer = await tg.client.post(
        "/telegram/webhook", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert answer.status_code == 400 and "levels deep" in answer.json()["error"]


async def test_an_oversize_update_answers_413(tg):
    update = tg.api.text_update("x")
    update["padding"] = "y" * WEBHOOK_JSON_LIMIT
    answer = await tg.client.post("/telegram/webhook", content=json.dumps(update), headers=HEADERS)
    assert answer.status_code == 413
    assert answer.json()["error"] == f"the JSON body is larger than the limit of {WEBHOOK_JSON_LIMIT} bytes"


async def test_brackets_inside_strings_do_not_count_and_the_update_is_handled(tg):
    answer = await tg.post(tg.api.text_update("[" * 5_000 + '"{' * 100))
    assert answer.status_code == 200
    await tg.settle()
    assert tg.api.sent
