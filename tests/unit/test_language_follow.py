"""The bot answers each question in the language it is asked in, and says when the entry has
no text in that language."""
from __future__ import annotations

from bot.web.webchat import browser_language
from tests.testbot import TestBot, entry

ENTRIES = (
    entry("fees", "办理业务收费吗", {"zh": "大部分业务免费。", "en": "Most services are free."},
          "Do I have to pay for services"),
    entry("hall", "大厅在哪里", "在一楼。", "Where is the service hall"),
)


def test_each_question_is_answered_in_its_own_language(tmp_path):
    bot = TestBot(tmp_path, ENTRIES)
    bot.say("你好")
    assert bot.say("Do I have to pay for services")[0] == "Most services are free."
    assert bot.say("Where is the service hall")[0] == "(This answer is only available in Chinese.)\n在一楼。"
    assert bot.say("办理业务收费吗")[0] == "大部分业务免费。"  # and back


def test_the_page_takes_the_browsers_language():
    assert browser_language("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert browser_language("fr-FR, zh-CN;q=0.7, en;q=0.5") == "zh"
    assert browser_language("de-DE") is None and browser_language("") is None
