"""A refused value says which rule it broke, and the one-message list tells a value that was
given but wrong from one that was not given."""
from __future__ import annotations

import pytest

from domain.applications import text_problem
from domain.catalogue import Material
from handlers.messages import IncomingFile
from tests.testbot import TestBot

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def typed(fmt: str) -> Material:
    return Material(id="m", name={"zh": "m"}, required=True, accepts=("text",), hint={}, format=fmt)


@pytest.mark.parametrize(("fmt", "value", "rule"), [
    ("cn_id", "11010519491231002", "id_length"),
    ("cn_id", "11010519491231002Y", "id_chars"),
    ("cn_id", "110105194902300021", "id_date"),
    ("cn_id", "110105194912310021", "id_checksum"),
    ("cn_id", "11010519491231002X", None),
    ("cn_mobile", "1381234567", "mobile_length"),
    ("cn_mobile", "138-1234-5678", "mobile_digits"),
    ("cn_mobile", "12812345678", "mobile_prefix"),
    ("email", "someone@", "email"),
    ("date", "2026/12/01", "date_format"),
    ("date", "2026-02-30", "date_invalid"),
    ("date", "   ", "empty"),
])
def test_each_rule_is_named(fmt, value, rule):
    assert text_problem(typed(fmt), value) == rule


def test_the_customer_hears_the_rule_and_wrong_is_not_missing(tmp_path):
    bot = TestBot(tmp_path)
    bot.say("我要办理开户")
    bot.say("张三")
    assert "校验码不符" in bot.say("110105194912310021")[0]
    bot.press("application:skip")
    bot.send(files=[IncomingFile(data=PNG, name="front.png")])
    bot.press("application:skip")
    assert "应为 11 位，您输入了 10 位" in bot.say("1381234567")[0]
    bot.press("application:skip")
    listed = bot.press("application:skip")[0]  # the optional e-mail; then the list of what is left
    assert "身份证号码 — 已填写但不正确（身份证号码最后一位校验码不符" in listed
    assert "身份证国徽面照片 — 未提供" in listed
    assert "手机号码 — 已填写但不正确（手机号码应为 11 位，您输入了 10 位）" in listed
