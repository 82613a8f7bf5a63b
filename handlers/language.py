"""Language switch: /lang, "English", "中文", or the language buttons."""
from __future__ import annotations

import re

from handlers.base import Context, Handler, menu_buttons
from handlers.messages import Button, Reply

_TO_EN = {"english", "/lang en", "switch to english", "英文", "英语"}
_TO_ZH = {"中文", "/lang zh", "切换中文", "chinese", "简体中文"}
_LANG_COMMAND = re.compile(r"^/lang(?:@\w+)?$", re.IGNORECASE)


class LanguageHandler(Handler):
    name = "lang"
    priority = 2
    interrupts = True

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        text = ctx.text.strip().lower()
        if text in _TO_EN:
            return self._switch(ctx, "en")
        if text in _TO_ZH:
            return self._switch(ctx, "zh")
        if _LANG_COMMAND.match(text):
            return [Reply(ctx.t("lang.choose"), [Button(ctx.t("lang.button.zh"), "lang:zh"),
                                                 Button(ctx.t("lang.button.en"), "lang:en")])]
        return None

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        lang = payload.removeprefix("lang:")
        if lang in ("zh", "en"):
            return self._switch(ctx, lang)
        return None

    def _switch(self, ctx: Context, lang: str) -> list[Reply]:
        ctx.conversation.language = lang
        return [Reply(ctx.t("lang.switched"), menu_buttons(lang))]
