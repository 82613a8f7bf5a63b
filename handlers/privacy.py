"""A customer asks, in chat, to have their personal data deleted ("删除我的个人信息" / "delete my
data"): told what it means, they confirm, and the request is recorded for staff to approve or
reject (domain/erasure.py); the outcome is told here later (handlers/notices/privacy.py)."""
from __future__ import annotations

import re

from domain import erasure
from handlers.base import Context, Handler, menu_buttons
from handlers.i18n import LANGUAGES, t
from handlers.messages import Button, Reply

CONFIRM = "privacy:erase:confirm"
CANCEL = "privacy:erase:cancel"
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _squeeze(text: str) -> str:
    return _NOISE.sub("", text).lower()


def asks_erasure(text: str) -> bool:
    """True when the message holds one of the erasure phrases of either language."""
    said = _squeeze(text)
    return bool(said) and any(_squeeze(phrase) in said for lang in LANGUAGES
                              for phrase in t("privacy.intent.erase", lang).split("|"))


class PrivacyHandler(Handler):
    name = "privacy"
    priority = 4
    interrupts = True

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        if not asks_erasure(ctx.text):
            return None
        ctx.clear_state()
        pending = erasure.pending_request(ctx.session, ctx.customer)
        if pending is not None:
            return [Reply(ctx.t("privacy.erase.already", id=pending.id), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("privacy.erase.confirm_prompt"), [Button(ctx.t("privacy.erase.button.confirm"), CONFIRM),
                                                              Button(ctx.t("privacy.erase.button.cancel"), CANCEL)])]

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        if payload == CANCEL:
            return [Reply(ctx.t("privacy.erase.cancelled"), menu_buttons(ctx.lang))]
        if payload != CONFIRM:
            return None
        request, new = erasure.request_erasure(ctx.session, ctx.customer, ctx.conversation)
        key = "privacy.erase.requested" if new else "privacy.erase.already"
        return [Reply(ctx.t(key, id=request.id), menu_buttons(ctx.lang))]
