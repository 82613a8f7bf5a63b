"""The FAQ handler through the engine on SQLite, with the shipped sample knowledge."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Runtime
from domain.questions import answer_open_questions, answer_recorded, unanswered
from handlers.messages import Incoming
from storage.models import HandoffSession, KnowledgeQuestion, OutboxItem

pytestmark = pytest.mark.slow


@pytest.fixture
def rt(sqlite_settings):
    r = Runtime.build(sqlite_settings, channels={})
    yield r
    r.services.db.dispose()


def say(rt, text="", button=None, chat="c1"):
    return rt.engine.handle(Incoming(channel="web", chat_id=chat, user_id=chat, text=text, button=button)).replies


def test_answer_is_logged_with_hits_and_offers_follow_ups(rt):
    replies = say(rt, "大厅几点开门？")
    assert "8:30" in replies[0].text
    assert any(b.payload == "faq:entry:hall-location" for b in replies[0].buttons)
    with rt.services.db.session() as s:
        q = s.scalars(select(KnowledgeQuestion)).one()
        assert q.decision == "answer" and q.top_entry_id == "hall-hours" and q.status is None
        assert q.hits[0]["entry_id"] == "hall-hours" and len(q.hits) == 5
    votes = [b.payload for b in replies[0].buttons if b.payload.startswith("feedback:faq:")]
    assert votes == [f"feedback:faq:up:{q.id}:hall-hours", f"feedback:faq:down:{q.id}:hall-hours"]
    follow = say(rt, button="faq:entry:hall-location")
    assert "示例路 88 号" in follow[0].text


def test_not_helpful_offers_the_questions_other_hits(rt):
    say(rt, "大厅几点开门？")
    with rt.services.db.session() as s:
        q = s.scalars(select(KnowledgeQuestion)).one()
        others = [h["entry_id"] for h in q.hits[1:4]]
    reply = say(rt, button=f"feedback:faq:down:{q.id}:hall-hours")[0]
    offered = [b.payload for b in reply.buttons if b.payload.startswith("faq:entry:")]
    assert offered == [f"faq:entry:{e}" for e in others]
    assert reply.buttons[-1].payload == "handoff:request"


def test_english_customer_gets_the_english_answer(rt):
    replies = say(rt, "What are your opening hours?", chat="en1")
    assert replies[0].text.startswith("The service hall is open")


def test_declined_question_is_recorded_and_the_staff_answer_reaches_the_customer(rt):
    replies = say(rt, "推荐一部好看的电影吧")
    assert "已记录" in replies[0].text
    assert [b.payload for b in replies[0].buttons] == ["handoff:request"]
    with rt.services.db.session() as s:
        [q] = unanswered(s)
        assert q.decision == "decline" and q.status == "open"
        from datetime import timedelta

        from bot.web.console.knowledge_pages import UNANSWERED_SOURCES

        listed = [u for source in UNANSWERED_SOURCES for u in source(s, q.created_at - timedelta(days=1))]
        assert [(u.question, u.count) for u in listed] == [("推荐一部好看的电影吧", 1)]
        before = len(s.scalars(select(OutboxItem)).all())
        answer_recorded(s, rt.services.events, q.id, "我们不提供影视推荐，抱歉。", entry_id=None)
    with rt.services.db.session() as s:
        q = s.get(KnowledgeQuestion, q.id)
        assert q.status == "answered" and q.answered_at is not None
        assert unanswered(s) == []
        items = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert len(items) == before + 1
        assert items[-1].chat_id == "c1" and "我们不提供影视推荐" in items[-1].payload["text"]
        with pytest.raises(ValueError):
            answer_recorded(s, rt.services.events, q.id, "again")


def test_did_you_mean_pick_is_remembered(rt):
    from knowledge.decide import Calibration

    kb = rt.services.knowledge
    saved = kb.calibration
    kb.calibration = Calibration(answer_threshold=1.01, suggest_threshold=0.0, suggest_window=1.0)
    try:
        replies = say(rt, "证书丢了怎么办")
    finally:
        kb.calibration = saved
    picks = [b.payload for b in replies[0].buttons if b.payload.startswith("faq:pick:")]
    assert len(picks) >= 2 and replies[0].buttons[-1].payload.startswith("faq:none:")
    chosen = picks[0].split(":")[3]
    answer = say(rt, button=picks[0])
    assert answer[0].text == kb.answer_text(kb.entry(chosen), "zh")
    with rt.services.db.session() as s:
        q = s.scalars(select(KnowledgeQuestion)).one()
        assert q.decision == "suggest" and q.chosen_entry_id == chosen
    say(rt, button=replies[0].buttons[-1].payload)  # none of these: a person takes the question
    with rt.services.db.session() as s:
        assert s.scalars(select(KnowledgeQuestion)).one().status == "open"
        handoff = s.scalars(select(HandoffSession)).one()
        assert handoff.reason == "low_confidence" and handoff.question == "证书丢了怎么办"


def test_the_same_question_failing_twice_hands_off(rt):
    assert "已记录" in say(rt, "推荐一部好看的电影吧")[0].text
    with rt.services.db.session() as s:
        assert s.scalars(select(HandoffSession)).all() == []
    say(rt, "推荐一部好看的电影吧！")
    with rt.services.db.session() as s:
        assert s.scalars(select(HandoffSession)).one().reason == "repeat_failure"


def test_a_new_entry_answers_the_recorded_questions_worded_like_it(rt):
    say(rt, "推荐一部好看的电影吧", chat="a")
    say(rt, "推荐一部好看的电影吧！", chat="b")
    say(rt, "今晚吃什么好呢", chat="c")
    with rt.services.db.session() as s:
        assert sorted(q.text for q in unanswered(s)) == sorted(["推荐一部好看的电影吧", "推荐一部好看的电影吧！", "今晚吃什么好呢"])
        done = answer_open_questions(s, rt.services.events, ["推荐一部好看的电影吧", "有什么电影推荐"], "本中心不提供影视推荐。",
                                     entry_id="movies")
        assert len(done) == 2 and {q.chosen_entry_id for q in done} == {"movies"}
    with rt.services.db.session() as s:
        assert [q.text for q in unanswered(s)] == ["今晚吃什么好呢"]
        sent = [o.chat_id for o in s.scalars(select(OutboxItem)) if "本中心不提供影视推荐" in o.payload["text"]]
        assert sorted(sent) == ["a", "b"]


def test_buttons_name_entries_in_the_customers_language():
    from types import SimpleNamespace

    from handlers.faq import question_label

    entry = SimpleNamespace(lang="zh", question="证书丢了怎么补办？", alternates=["证书遗失", "How do I replace a lost certificate?"])
    assert question_label(entry, "zh") == "证书丢了怎么补办？"
    assert question_label(entry, "en") == "How do I replace a lost certificate?"
    assert question_label(SimpleNamespace(lang="zh", question="几点开门？", alternates=[]), "en") == "几点开门？"
