"""A malformed Telegram update is kept as unparseable at once, logs one line, and never holds up the chat."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from storage.models import InboxItem


def _without_date(update):
    del update["message"]["date"]
    return update


def _without_chat(update):
    del update["message"]["chat"]
    return update


def _text_as_object(update):
    update["message"]["text"] = {"evil": True}
    return update


def _poll_of_unknown_type(update):
    update["message"]["poll"] = {"id": "1", "question": "q", "options": [], "type": "no-such-type"}
    return update


@pytest.mark.parametrize("break_it", [_without_date, _without_chat, _text_as_object, _poll_of_unknown_type])
async def test_malformed_update_is_unparseable_and_the_next_message_goes_through(tg, caplog, break_it):
    bad = break_it(tg.api.text_update("broken"))
    assert (await tg.post(bad)).status_code == 200
    assert (await tg.post(tg.api.text_update("/start"))).status_code == 200
    with caplog.at_level(logging.WARNING):
        await tg.settle()
    with tg.db.session() as s:
        statuses = [i.status for i in s.scalars(select(InboxItem).order_by(InboxItem.id))]
    assert statuses == ["unparseable", "done"]
    assert len(tg.api.sent) == 1  # the /start after it was answered without waiting for retries
    assert not [r for r in caplog.records if r.exc_info]  # one line, no traceback
    assert len([r for r in caplog.records if "unparseable" in r.getMessage()]) == 1
