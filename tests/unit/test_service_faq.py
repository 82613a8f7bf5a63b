"""The sample FAQ and the sample services meet: each service has an entry whose button starts
its application, and a question naming a service offers to start it."""
from __future__ import annotations

from bot.config import SAMPLE_KNOWLEDGE_DIR
from knowledge.loader import load
from tests.testbot import StandInKnowledge, TestBot


def test_every_sample_service_has_an_faq_entry_that_starts_it():
    entries, problems = load(SAMPLE_KNOWLEDGE_DIR)
    assert problems == []
    actions = {f.action for e in entries for f in e.followups if f.action}
    for service in ("account_opening", "account_closing", "business_account_opening", "certificate_request",
                    "contact_change"):
        assert f"application:svc:{service}" in actions


def test_an_answer_about_a_service_starts_it_and_a_question_naming_one_offers_it(tmp_path):
    bot = TestBot(tmp_path, StandInKnowledge.from_folder(SAMPLE_KNOWLEDGE_DIR).entries)
    assert "3 个工作日" in bot.say("开户收费吗？")[0]
    assert bot.last_payloads()[0] == "application:svc:account_opening"
    assert "个人账户开户" in bot.press("application:svc:account_opening")[0]
    bot.press("application:cancel")
    bot.say("销户以后钱退到哪里去了")  # no entry says this; the service is still offered
    assert "application:svc:account_closing" in bot.last_payloads()
