"""A forged button naming a row id past what an integer column holds (or a digit that is no id) is
answered like one naming a row that does not exist (before: OverflowError or ValueError, the handler
failed with a traceback)."""
from __future__ import annotations

import pytest

from handlers.base import row_id
from tests.testbot import TestBot

HUGE = "9" * 40


@pytest.mark.parametrize("forged", [HUGE, "²"])
@pytest.mark.parametrize("template", ["application:fix:{}", "application:resubmit:{}", "application:withdraw:{}",
                                      "faq:pick:{}:hours", "faq:none:{}", "feedback:faq:up:{}:hours"])
def test_a_forged_id_in_a_button_is_answered_like_an_unknown_one(tmp_path, template, forged):
    bot = TestBot(tmp_path)
    bot.say("你好")
    unknown = bot.press(template.format(987654))
    assert bot.press(template.format(forged)) == unknown
    bot.close()


@pytest.mark.parametrize(("text", "expected"), [("42", 42), ("2147483647", 2147483647), ("2147483648", None),
                                                (HUGE, None), ("-1", None), ("1e3", None), ("", None), ("٣", None),
                                                ("²", None)])
def test_row_id(text, expected):
    assert row_id(text) == expected
