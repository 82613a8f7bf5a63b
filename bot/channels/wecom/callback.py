"""``GET|POST /wecom/callback``: one URL for the self-built app and for 微信客服 (kf).

A callback is verified and decrypted, recorded in the inbox (so WeCom's retries of the
same message are dropped), and answered with an empty 200 at once; WeCom waits only five
seconds. The reply goes later through the outbox. Refused callbacks get a 4xx, and the
log names only the reason, never the content.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from bot.channels.wecom.channel import WeComAppChannel, WeComKfChannel
from bot.channels.wecom.crypto import MAX_CALLBACK_BYTES, CallbackCrypto, CallbackRejected
from storage.db import Database
from storage.inbox import accept

log = logging.getLogger(__name__)


async def _read_limited(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BYTES:
            raise CallbackRejected(413, "callback body too large")
    return bytes(body)


def callback_router(crypto: CallbackCrypto, db: Database, app: WeComAppChannel | None,
                    kf: WeComKfChannel | None) -> APIRouter:
    router = APIRouter()

    @router.get("/wecom/callback", include_in_schema=False)
    def verify_url(msg_signature: str, timestamp: str, nonce: str, echostr: str) -> PlainTextResponse:
        try:
            return PlainTextResponse(crypto.verify_url(msg_signature, timestamp, nonce, echostr))
        except CallbackRejected as exc:
            log.warning("WeCom URL verification refused: %s", exc.reason)
            raise HTTPException(exc.status, exc.reason) from None

    @router.post("/wecom/callback", include_in_schema=False)
    async def receive(request: Request, msg_signature: str, timestamp: str, nonce: str) -> PlainTextResponse:
        try:
            msg = crypto.decrypt_callback(await _read_limited(request), msg_signature, timestamp, nonce)
        except CallbackRejected as exc:
            log.warning("WeCom callback refused: %s", exc.reason)
            raise HTTPException(exc.status, exc.reason) from None
        if msg.get("MsgType") == "event" and msg.get("Event") == "kf_msg_or_event":
            channel, found = kf, _kf_delivery(msg)
        else:
            channel, found = app, WeComAppChannel.delivery(msg)
        if channel is None or found is None:
            log.info("WeCom callback ignored (type=%s event=%s)", msg.get("MsgType"), msg.get("Event"))
            return PlainTextResponse("")
        key, chat_id, payload = found
        if await asyncio.to_thread(accept, db, channel.name, key, payload, chat_id):
            request.app.state.runtime.inbox.wake()
        return PlainTextResponse("")

    return router


def _kf_delivery(msg: dict[str, str]) -> tuple[str, str, dict[str, str]] | None:
    """kf callbacks carry no message, only a token for kf/sync_msg; one sync per account at a time."""
    token, open_kfid = msg.get("Token"), msg.get("OpenKfId")
    if not token or not open_kfid:
        return None
    # The key appears in logs; the token is a credential for kf/sync_msg, so only its hash.
    key = "sync:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return key, f"sync:{open_kfid}", {"kind": "sync", "token": token, "open_kfid": open_kfid}
