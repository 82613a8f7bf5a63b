"""Text with nothing to answer (emoji, markup, a long paste) is not a question: it is neither asked
of the knowledge nor put on the staff's unanswered list; the customer is asked to use words."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.i18n import t
from storage.models import KnowledgeQuestion
from tests.testbot import TestBot

MENU = ["menu:ask", "application:start", "progress:list", "feedback:rate", "complaint:start", "handoff:request"]


@pytest.mark.parametrize("junk", ["😀😀👍", "<div><br/></div>", "？？！！…", "x" * 5000])
def test_content_free_text_gets_please_ask_in_words_and_is_not_recorded(tmp_path, junk):
    bot = TestBot(tmp_path)
    bot.say("你好")
    assert bot.say(junk)[-1] == t("faq.ask_in_words", "zh")  # a long paste is told it was cut, first
    assert bot.last_payloads() == MENU
    with bot.runtime.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeQuestion)) == 0
    bot.close()


def test_a_real_question_is_still_asked_and_recorded(tmp_path):
    bot = TestBot(tmp_path)
    assert bot.say("天气怎么样")[0] == t("faq.recorded", "zh")
    with bot.runtime.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeQuestion)) == 1
    bot.close()
