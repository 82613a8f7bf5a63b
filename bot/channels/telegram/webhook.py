"""``POST /telegram/webhook``: the update is recorded, then Telegram hears 200."""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from bot.channels.telegram.api import CHANNEL
from bot.channels.telegram.parse import chat_of
from bot.jsonbody import WEBHOOK_JSON_LIMIT, parse_json
from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)


def webhook_router(db: Database, secret_token: str) -> APIRouter:
    secret = secret_token.encode()
    router = APIRouter()

    @router.post("/telegram/webhook", include_in_schema=False)
    async def webhook(request: Request) -> dict[str, Any]:
        """Record the update, then answer 200: a crash after the answer loses nothing,
        one before it lets Telegram deliver again (and the repeat is dropped)."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if not hmac.compare_digest(given, secret):
            log.warning("telegram webhook: request with a wrong secret token refused")
            raise HTTPException(403, "wrong secret token")
        update = parse_json(await request.body(), WEBHOOK_JSON_LIMIT)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise HTTPException(400, "the body must be a Telegram update in JSON")
        await asyncio.to_thread(inbox.accept, db, CHANNEL, str(update["update_id"]), update, chat_of(update))
        request.app.state.runtime.inbox.wake()
        return {}

    return router
