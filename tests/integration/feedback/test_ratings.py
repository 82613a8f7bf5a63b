"""Ratings through the engine: FAQ votes, asked 1-5 scores with one reminder, the menu's
general rating, and the figures; on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from domain import ratings
from handlers import feedback
from handlers.messages import Button
from storage.models import Conversation, Job, Rating, utcnow

from .conftest import last_outbox_id, outbox_texts, payloads, texts


def ask(runtime, name: str, subject_type: str, subject_id, staff_id=None, service=None) -> list[int]:
    """What the handoff and applications features do when a handoff ends or an application completes."""
    with runtime.services.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == f"chat-{name}")).one()
        return feedback.send_rating_request(s, runtime.services, conversation, subject_type, subject_id, staff_id,
                                            service=service)


def buttons_of_outbox(runtime, outbox_id: int) -> list[str]:
    from storage.models import OutboxItem

    with runtime.services.db.session() as s:
        return [b["payload"] for b in s.get(OutboxItem, outbox_id).payload["buttons"]]


def test_handoff_rating_asked_once_scored_with_comment(runtime, say, staff):
    alice = say("alice")
    alice("你好")
    (outbox_id,) = ask(runtime, "alice", "handoff", 17, staff["agent1"])
    assert ask(runtime, "alice", "handoff", 17, staff["agent1"]) == []  # asked once only
    score_buttons = buttons_of_outbox(runtime, outbox_id)
    assert len(score_buttons) == 5 and score_buttons[0].startswith("feedback:score:")
    reply = alice(button=score_buttons[4])
    assert "还有什么意见" in texts(reply) and "feedback:skip" in payloads(reply)
    assert "已记录您的意见" in texts(alice("客服很耐心，谢谢"))
    assert "已经评价过了" in texts(alice(button=score_buttons[0]))
    with runtime.services.db.session() as s:
        rating = s.scalars(select(Rating)).one()
        assert (rating.status, rating.score, rating.comment) == ("rated", 5, "客服很耐心，谢谢")
        assert (rating.subject_type, rating.subject_id, rating.staff_id) == ("handoff", "17", staff["agent1"])
        assert s.scalars(select(Job.status).where(Job.kind == ratings.JOB_REMINDER)).one() == "cancelled"
        assert s.scalars(select(Conversation)).one().state is None


def test_unanswered_rating_is_reminded_exactly_once(runtime, say):
    bob = say("bob")
    bob("hello there")
    ask(runtime, "bob", "application", 42, service="business-licence")
    assert runtime.jobs.run_due() == 0  # the reminder waits a day
    with runtime.services.db.session() as s:
        s.execute(update(Job).where(Job.kind == ratings.JOB_REMINDER).values(run_at=utcnow() - timedelta(seconds=1)))
    mark = last_outbox_id(runtime)
    assert runtime.jobs.run_due() == 1
    (reminder,) = outbox_texts(runtime, "bob", mark)
    assert "reminder" in reminder.lower()
    assert runtime.jobs.run_due() == 0
    # Even if the job were set again, a rating is reminded once only.
    with runtime.services.db.session() as s:
        rating = s.scalars(select(Rating)).one()
        s.execute(update(Job).where(Job.kind == ratings.JOB_REMINDER)
                  .values(status="pending", run_at=utcnow() - timedelta(seconds=1)))
    mark = last_outbox_id(runtime)
    assert runtime.jobs.run_due() == 1 and outbox_texts(runtime, "bob", mark) == []
    reply = bob(button=f"feedback:score:{rating.id}:2")
    assert "complaint:start" in payloads(reply)  # a low score offers the complaint route
    bob(button="feedback:skip")
    with runtime.services.db.session() as s:
        rating = s.get(Rating, rating.id)
        assert (rating.application_id, rating.service, rating.score, rating.comment) == (42, "business-licence", 2,
                                                                                         None)


def test_another_customer_cannot_answer_someone_elses_rating(runtime, say):
    say("alice")("你好")
    ask(runtime, "alice", "handoff", 1)
    with runtime.services.db.session() as s:
        rating_id = s.scalars(select(Rating.id)).one()
    assert "按钮已失效" in texts(say("mallory")(button=f"feedback:score:{rating_id}:1"))
    with runtime.services.db.session() as s:
        assert s.get(Rating, rating_id).status == "asked"


def test_menu_rating_and_one_in_a_running_flow_keeps_the_flow(runtime, say):
    carol = say("carol")
    reply = carol(button="feedback:rate")
    assert payloads(reply) == [f"feedback:general:{n}" for n in range(1, 6)]
    carol(button="feedback:general:4")
    carol(button="feedback:skip")
    # A score given while filing a complaint does not take over the complaint's flow.
    carol(button="complaint:start")
    assert texts(carol(button="feedback:general:5")) == "感谢您的评价！"
    assert "请描述" in texts(carol(button="complaint:cat:other"))
    with runtime.services.db.session() as s:
        assert sorted(s.scalars(select(Rating.score))) == [4, 5]


def test_faq_votes_count_against_the_entry_and_not_helpful_offers_more(runtime, say):
    buttons = feedback.faq_feedback_buttons("zh", "hours.opening", question_log_id=5)
    assert [b.payload for b in buttons] == ["feedback:faq:up:5:hours.opening", "feedback:faq:down:5:hours.opening"]
    assert "很高兴" in texts(say("u0")(button=buttons[0].payload))
    for name in ("u1", "u2", "u3"):
        reply = say(name)(button=feedback.faq_feedback_buttons("zh", "fees:licence")[1].payload)
        assert "handoff:request" in payloads(reply) and "换个说法" in texts(reply)
    again = say("u3")(button=feedback.faq_feedback_buttons("zh", "fees:licence")[1].payload)  # same answer twice
    assert "handoff:request" in payloads(again)

    # With the FAQ feature's suggestions connected, "not helpful" offers them first.
    runtime.services.faq_suggestions = lambda ctx, entry, log_id: [Button("费用标准", "faq:show:fees")]
    reply = say("u4")(button=feedback.faq_feedback_buttons("zh", "fees:licence")[1].payload)
    assert payloads(reply) == ["faq:show:fees", "handoff:request"] and "是不是" in texts(reply)

    with runtime.services.db.session() as s:
        listed = ratings.unhelpful_entries(s, 3)
        assert [(e["entry_id"], e["not_helpful"], e["helpful"]) for e in listed] == [("fees:licence", 4, 0)]
        assert ratings.unhelpful_entries(s, 5) == []
        figures = ratings.stats(s, utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1))
    assert figures["faq"]["helpful"] == 1 and figures["faq"]["not_helpful"] == 4
    assert figures["faq"]["by_entry"][0] == {"entry_id": "fees:licence", "helpful": 0, "not_helpful": 4}


def test_rating_figures_by_agent_service_subject_and_day(runtime, say, staff):
    for name, subject, subject_id, agent, service, score in [
        ("a", "handoff", 1, staff["agent1"], None, 5),
        ("b", "handoff", 2, staff["agent1"], None, 3),
        ("c", "application", 3, None, "licence", 4),
        ("d", "application", 4, None, "licence", None),  # asked, never answered
    ]:
        send = say(name)
        send("你好")
        ask(runtime, name, subject, subject_id, agent, service)
        if score:
            with runtime.services.db.session() as s:
                rating_id = s.scalars(select(Rating.id).where(Rating.subject_id == str(subject_id))).one()
            send(button=f"feedback:score:{rating_id}:{score}")
    with runtime.services.db.session() as s:
        figures = ratings.stats(s, utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1))
        before = ratings.stats(s, utcnow() - timedelta(days=3), utcnow() - timedelta(days=2))
    assert figures["scores"]["count"] == 3 and figures["scores"]["average"] == 4.0
    assert figures["scores"]["distribution"] == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}
    assert figures["by_agent"] == [{"staff_id": staff["agent1"], "name": "Agent One", "count": 2, "average": 4.0}]
    assert figures["by_service"] == [{"service": "licence", "count": 1, "average": 4.0}]
    assert figures["by_subject"]["handoff"] == {"count": 2, "average": 4.0}
    assert len(figures["by_day"]) == 1 and figures["by_day"][0]["count"] == 3
    assert figures["requests"] == {"asked": 4, "answered": 3, "reminded": 0, "response_rate": 0.75}
    assert before["scores"]["count"] == 0 and before["scores"]["average"] is None


def test_rating_endpoints(runtime, say, staff):
    from fastapi.testclient import TestClient

    from bot.web.app import create_app
    from domain.staff import create_api_token

    for name in ("u1", "u2", "u3"):
        say(name)(button=feedback.faq_feedback_buttons("en", "bad-entry")[1].payload)
    with runtime.services.db.session() as s:
        boss = create_api_token(s, "boss", "supervisor", staff["boss"])
        kb = create_api_token(s, "kb", "content_manager")
        agent = create_api_token(s, "agent", "agent", staff["agent1"])
    client = TestClient(create_app(runtime, start_workers=False))
    listed = client.get("/api/v1/ratings/unhelpful", headers={"Authorization": f"Bearer {kb}"}).json()
    assert listed["min_votes"] == 3 and [e["entry_id"] for e in listed["entries"]] == ["bad-entry"]
    assert client.get("/api/v1/ratings/stats", headers={"Authorization": f"Bearer {agent}"}).status_code == 403
    figures = client.get("/api/v1/ratings/stats", headers={"Authorization": f"Bearer {boss}"}).json()
    assert figures["faq"]["not_helpful"] == 3
    say("u4")(button="feedback:general:2")
    say("u4")("排队太久了")
    boss_headers = {"Authorization": f"Bearer {boss}"}
    assert client.get("/api/v1/ratings", headers=boss_headers).json()["total"] == 4
    commented = client.get("/api/v1/ratings", headers=boss_headers, params={"with_comment": "true"}).json()
    assert [(r["score"], r["comment"], r["subject_type"]) for r in commented["items"]] == [(2, "排队太久了", "service")]
    votes = client.get("/api/v1/ratings", headers=boss_headers, params={"kind": "helpful", "entry_id": "bad-entry"})
    assert votes.json()["total"] == 3 and votes.json()["items"][0]["helpful"] is False
