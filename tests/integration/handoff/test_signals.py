"""The plain-text signals: asking for a person, anger, the same question again."""
from __future__ import annotations

import pytest

from handlers.handoff import anger_score, is_angry, is_request, same_question


@pytest.mark.parametrize("text", ["人工", "转人工", "我要转人工", "人工客服", "找人工", "请转人工服务", "human",
                                  "Agent", "talk to a person", "Can I speak to a human?", "real person please",
                                  "人工 客服"])
def test_requests_for_a_person(text):
    assert is_request(text)


@pytest.mark.parametrize("text", ["人工智能是什么", "人工费怎么算", "travel agent license", "human resources office",
                                  "营业时间", "", "what does an agent do at the counter"])
def test_not_requests(text):
    assert not is_request(text)


@pytest.mark.parametrize("text", ["你们这什么破系统！", "太差了，等了一个小时", "This is USELESS", "worst service ever",
                                  "WHY IS THIS NOT WORKING!!!", "我受够了", "为什么还不办好！！！？？？"])
def test_angry(text):
    assert is_angry(text), anger_score(text)


@pytest.mark.parametrize("text", ["谢谢！", "好的!!!", "营业时间是几点？", "How do I apply for an ID card?",
                                  "I need the VAT form", "请问 NASA 和 ESA 的地址", "急！！！"])
def test_calm(text):
    assert not is_angry(text), anger_score(text)


def test_same_question_tolerates_small_rewording():
    assert same_question("营业时间是几点？", "营业时间是几点")
    assert same_question("How do I renew my passport", "how do i renew my passport?")
    assert not same_question("营业时间是几点", "怎么办理社保卡")
    assert not same_question("", "")
