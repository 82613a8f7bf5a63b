"""Start, menu and help; the honest answer for features not installed; empty messages."""
from __future__ import annotations

import re

from handlers.base import Context, Handler, menu_buttons
from handlers.messages import Reply

_COMMAND = re.compile(r"^/(start|menu|help)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_WORDS = {
    "start": {"你好", "您好", "hi", "hello", "hey", "开始", "start"},
    "menu": {"菜单", "主菜单", "menu", "main menu", "返回", "返回主菜单"},
    "help": {"帮助", "help", "怎么用", "使用帮助"},
}
#: Which menu label names a feature, for "not available yet".
_FEATURE_LABELS = {
    "application": "menu.button.apply",
    "progress": "menu.button.progress",
    "feedback": "menu.button.rate",
    "complaint": "menu.button.complain",
    "handoff": "menu.button.human",
}


def command_of(text: str) -> tuple[str, str] | None:
    """("start"|"menu"|"help", argument) for a command or a bare menu word, else None."""
    match = _COMMAND.match(text)
    if match:
        return match.group(1).lower(), (match.group(2) or "").strip()
    word = text.strip().lower().rstrip("!！。.~")
    for command, words in _WORDS.items():
        if word in words:
            return command, ""
    return None


class MenuHandler(Handler):
    name = "menu"
    priority = 0
    interrupts = True

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        found = command_of(ctx.text)
        if found is None:
            return None
        command, argument = found
        if command == "start" and argument:
            # A deep link (/start REF): the payload is what the customer came for; route it as text.
            ctx.text = argument
            return None
        ctx.clear_state()
        if command == "help":
            return [Reply(ctx.t("menu.help"), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("menu.welcome"), menu_buttons(ctx.lang))]

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        if payload == "menu:ask":
            ctx.clear_state()
            return [Reply(ctx.t("menu.ask_prompt"))]
        if payload == "menu:main":
            ctx.clear_state()
            return [Reply(ctx.t("menu.welcome"), menu_buttons(ctx.lang))]
        if payload.startswith("menu:unavailable:"):
            feature = payload.removeprefix("menu:unavailable:").split(":", 1)[0]
            label_key = _FEATURE_LABELS.get(feature)
            if label_key is None:
                return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]
            return [Reply(ctx.t("menu.not_available", feature=ctx.t(label_key)), menu_buttons(ctx.lang))]
        return None


class EmptyMessageHandler(Handler):
    """A message with no text (a sticker, a bare file outside any flow) still gets an answer."""

    name = "empty"
    priority = 1

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        if ctx.text:
            return None
        replies = [Reply(ctx.t("attachment.received", name=a.original_name or a.mime)) for a in ctx.attachments]
        if replies or ctx.notices:
            return replies + [Reply(ctx.t("menu.ask_prompt"), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("fallback.empty"), menu_buttons(ctx.lang))]
