"""Handoff end to end through the engine and the service, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from handoff_helpers import make_runtime, say, staff
from sqlalchemy import func, select, update

from domain import handoff
from domain.handoff import HandoffError
from handlers.handoff import after_failed_answer, request_handoff
from storage.models import (
    Conversation,
    HandoffEvent,
    HandoffSession,
    Job,
    Message,
    OutboxItem,
    Rating,
    StaffUser,
    utcnow,
)


def open_handoff(rt, chat="c1") -> HandoffSession:
    with rt.services.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == chat)).one()
        found = handoff.open_handoff(s, conversation.id)
        assert found is not None
        return found


def conversation(rt, chat="c1") -> Conversation:
    with rt.services.db.session() as s:
        return s.scalars(select(Conversation).where(Conversation.chat_id == chat)).one()


def act(rt, fn, *args):
    with rt.services.db.session() as s:
        return fn(s, rt.services, *args)


def outbox_texts(rt, chat="c1") -> list[str]:
    with rt.services.db.session() as s:
        return [i.payload["text"] for i in s.scalars(select(OutboxItem).where(OutboxItem.chat_id == chat)
                                                     .order_by(OutboxItem.id))]


def test_messages_flow_both_ways_and_bot_stays_silent(rt):
    agent = staff(rt, "alice")
    say(rt, "营业时间是几点")
    queued = say(rt, "转人工").replies
    assert "第 1 位" in queued[0].text and "分钟" in queued[0].text
    assert [b.payload for b in queued[0].buttons] == ["handoff:cancel"]
    assert conversation(rt).mode == "human"
    h = open_handoff(rt)
    assert (h.status, h.reason, h.question) == ("waiting", "request", "营业时间是几点")

    # The bot answers nothing while staff own the conversation, not even a command.
    for text in ["有人吗", "/menu", "营业时间"]:
        result = say(rt, text)
        assert result.replies == [] and result.outbox_ids == []

    act(rt, handoff.claim, h.id, agent)
    assert "Alice 已接入" in outbox_texts(rt)[-1]
    act(rt, handoff.reply, h.id, agent, "您好，我们工作日 9 点到 17 点营业。")
    with rt.services.db.session() as s:
        last = s.scalars(select(Message).order_by(Message.id.desc())).first()
        assert (last.sender, last.staff_id, last.direction) == ("staff", agent.id, "out")
    assert outbox_texts(rt)[-1] == "您好，我们工作日 9 点到 17 点营业。"
    assert say(rt, "谢谢").replies == []
    assert open_handoff(rt).awaiting_since is not None  # the console shows an unanswered message

    act(rt, handoff.hand_back, h.id, agent)
    texts = outbox_texts(rt)
    assert "智能客服继续为您服务" in texts[-2] and "请为客服的服务打分" in texts[-1]
    with rt.services.db.session() as s:
        done = s.get(HandoffSession, h.id)
        assert (done.status, done.close_kind, done.conversation.mode) == ("closed", "handback", "bot")
        assert handoff.last_closed(s, done.conversation_id).agent_id == agent.id
        rating = s.scalars(select(Rating)).one()
        assert (rating.subject_type, rating.subject_id, rating.staff_id) == ("handoff", str(h.id), agent.id)
    assert say(rt, button=f"feedback:score:{rating.id}:5").replies  # the bot is back and takes the score
    with rt.services.db.session() as s:
        assert s.get(Rating, rating.id).score == 5
    assert say(rt, "/menu").replies


def test_cancel_while_waiting(rt):
    staff(rt, "alice")
    say(rt, "人工")
    result = say(rt, button="handoff:cancel")
    assert "取消" in result.replies[0].text
    assert conversation(rt).mode == "bot"
    with rt.services.db.session() as s:
        assert s.scalars(select(HandoffSession)).one().close_kind == "cancelled"
    assert say(rt, "/start").replies


def test_place_in_queue_and_wait_from_agents_on_duty(rt):
    staff(rt, "alice")
    say(rt, "人工", chat="c1")
    second = say(rt, "转人工", chat="c2").replies[0].text
    assert "第 2 位" in second and "约 12 分钟" in second  # two rounds of the default 6 minutes, one agent
    staff(rt, "bob")
    third = say(rt, "human please", chat="c3").replies[0].text
    assert "number 3" in third and "about 12 min" in third  # two agents: round 2


def test_a_second_request_does_not_queue_twice(rt):
    staff(rt, "alice")
    say(rt, "我想问社保卡补办")
    with rt.services.db.session() as s:
        conv = s.scalars(select(Conversation)).one()
        handoff.enqueue_handoff(s, rt.services, conv, "request", "我想问社保卡补办")
        _again, new = handoff.enqueue_handoff(s, rt.services, conv, "complaint", "另一件事")
        assert not new
    with rt.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(HandoffSession)) == 1
        assert "另一件事" in s.scalars(select(HandoffSession)).one().question


def closed_now_settings(settings):
    """Hours round the clock except that today and the next days are holidays."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    holidays = f"{today.isoformat()}..{(today + timedelta(days=2)).isoformat()}"
    return make_runtime(settings, handoff_hours="mon-sun 08:30-17:00", handoff_holidays=holidays)


def test_outside_hours_question_recorded_and_answered_later(settings):
    rt = closed_now_settings(settings)
    try:
        agent = staff(rt, "alice")
        say(rt, "社保卡丢了怎么补办")
        replies = say(rt, "转人工").replies
        assert "非工作时间" in replies[0].text and "08:30" in replies[0].text
        assert "社保卡丢了怎么补办" in replies[0].text
        assert conversation(rt).mode == "bot"  # the bot keeps serving meanwhile
        assert say(rt, "/menu").replies
        h = open_handoff(rt)
        assert h.after_hours and h.clock_start > utcnow() + timedelta(days=1)

        act(rt, handoff.claim, h.id, agent)
        act(rt, handoff.reply, h.id, agent, "补办请带身份证到服务大厅。")
        with rt.services.db.session() as s:
            item = s.scalars(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
            assert (item.payload["text"], item.status) == ("补办请带身份证到服务大厅。", "pending")
            # Answered before opening time: the first-response clock had not started yet.
            assert s.get(HandoffSession, h.id).first_response_seconds == 0
    finally:
        rt.services.db.dispose()


def test_outside_hours_without_a_question_asks_for_it(settings):
    rt = closed_now_settings(settings)
    try:
        replies = say(rt, "人工").replies
        assert "请简要写下您的问题" in replies[0].text
        assert "已记录" in say(rt, "我的申请为什么被退回").replies[0].text
        assert open_handoff(rt).question == "我的申请为什么被退回"
    finally:
        rt.services.db.dispose()


def test_nobody_on_duty_records_the_question(rt):
    staff(rt, "alice", on_duty=False)
    reply = say(rt, "talk to a person").replies[0].text
    assert "No agent is online" in reply
    assert conversation(rt).mode == "bot" and open_handoff(rt).after_hours


def test_anger_hands_off_with_an_apology(rt):
    staff(rt, "alice")
    replies = say(rt, "你们这什么破系统，等了一上午！！！").replies
    assert "非常抱歉" in replies[0].text and "第 1 位" in replies[1].text
    assert open_handoff(rt).reason == "anger"


def test_the_same_question_failing_twice_hands_off(rt):
    staff(rt, "alice")
    say(rt, "hello")
    with rt.services.db.session() as s:
        conv = s.scalars(select(Conversation)).one()
        from handlers.base import Context
        from handlers.messages import Incoming

        def ctx(text):
            return Context(session=s, incoming=Incoming("web", "c1", "c1", text), customer=conv.customer,
                           conversation=conv, services=rt.services, text=text)

        assert after_failed_answer(ctx("How do I register a boat?")) is None
        assert after_failed_answer(ctx("What is the fee for a fishing permit")) is None
        replies = after_failed_answer(ctx("how do i register a boat"))
        assert replies and "number 1" in replies[0].text
    h = open_handoff(rt)
    assert (h.reason, h.question) == ("repeat_failure", "how do i register a boat")


def test_request_handoff_for_other_handlers(rt):
    staff(rt, "alice")
    say(rt, "hello")
    with rt.services.db.session() as s:
        conv = s.scalars(select(Conversation)).one()
        from handlers.base import Context
        from handlers.messages import Incoming

        c = Context(session=s, incoming=Incoming("web", "c1", "c1", "x"), customer=conv.customer,
                    conversation=conv, services=rt.services, text="x")
        c.set_state("complaint:details", {"n": 1})
        replies = request_handoff(c, "complaint", "窗口人员态度差")
        assert replies and conv.mode == "human" and conv.state is None
    assert open_handoff(rt).reason == "complaint"


def test_two_concurrent_claims_exactly_one_wins(rt):
    agents = [staff(rt, "alice"), staff(rt, "bob"), staff(rt, "carol")]
    say(rt, "人工")
    h = open_handoff(rt)
    barrier = threading.Barrier(len(agents))
    outcomes: list[str] = []

    def take(agent: StaffUser) -> None:
        barrier.wait()
        try:
            act(rt, handoff.claim, h.id, agent)
            outcomes.append("won")
        except HandoffError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=take, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["taken", "taken", "won"]
    with rt.services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(HandoffEvent).where(HandoffEvent.kind == "claimed")) == 1
        assert sum("已接入" in i.payload["text"] for i in s.scalars(select(OutboxItem))) == 1


def _age(rt, handoff_id: int, minutes: float) -> None:
    """Move the handoff's clocks and its idle job into the past instead of waiting."""
    past = utcnow() - timedelta(minutes=minutes)
    with rt.services.db.session() as s:
        s.execute(update(HandoffSession).where(HandoffSession.id == handoff_id)
                  .values(claimed_at=past, awaiting_since=past))
        s.execute(update(Job).where(Job.dedupe_key == f"handoff-idle:{handoff_id}").values(run_at=past))


def test_idle_agent_returns_the_conversation_to_the_queue(rt):
    agent = staff(rt, "alice")
    say(rt, "人工")
    h = open_handoff(rt)
    act(rt, handoff.claim, h.id, agent)
    _age(rt, h.id, 11)
    assert rt.jobs.run_due() == 1
    back = open_handoff(rt)
    assert (back.status, back.agent_id, back.requeued) == ("waiting", None, 1)
    assert conversation(rt).mode == "human"
    assert "转接其他客服" in outbox_texts(rt)[-1]
    with rt.services.db.session() as s:
        event = s.scalars(select(HandoffEvent).order_by(HandoffEvent.id.desc())).first()
        assert (event.kind, event.detail["why"], event.detail["from_agent"]) == ("requeued", "idle", agent.id)


def test_an_answering_agent_keeps_the_conversation(rt):
    agent = staff(rt, "alice")
    say(rt, "人工")
    h = open_handoff(rt)
    act(rt, handoff.claim, h.id, agent)
    act(rt, handoff.reply, h.id, agent, "在的，请讲。")
    _age(rt, h.id, 30)
    with rt.services.db.session() as s:  # the answer cleared the wait; only the customer can start it again
        s.execute(update(HandoffSession).where(HandoffSession.id == h.id).values(awaiting_since=None))
    assert rt.jobs.run_due() == 0
    assert open_handoff(rt).status == "active"
    say(rt, "我想问一下进度")  # the customer waits again: a new idle job
    _age(rt, h.id, 11)
    assert rt.jobs.run_due() == 1
    assert open_handoff(rt).status == "waiting"


def test_transfer_notes_canned_and_who_may_act(rt):
    alice, bob = staff(rt, "alice"), staff(rt, "bob")
    reviewer = staff(rt, "rita", role="reviewer")
    boss = staff(rt, "sue", role="supervisor")
    say(rt, "人工")
    h = open_handoff(rt)
    with pytest.raises(HandoffError, match="not_agent"):
        act(rt, handoff.claim, h.id, reviewer)
    act(rt, handoff.claim, h.id, alice)
    with pytest.raises(HandoffError, match="not_yours"):
        act(rt, handoff.reply, h.id, bob, "hi")
    with pytest.raises(HandoffError, match="bad_target"):
        act(rt, handoff.transfer, h.id, alice, reviewer.id)
    act(rt, handoff.transfer, h.id, alice, bob.id)
    assert "Bob" in outbox_texts(rt)[-1]
    act(rt, handoff.reply, h.id, bob, "我是 Bob")
    act(rt, handoff.reply, h.id, boss, "主管补充一句")  # a supervisor may step in
    with rt.services.db.session() as s:
        handoff.add_note(s, h.conversation_id, alice, "客户之前投诉过")
        handoff.add_canned(s, alice, "问候", "您好，请问有什么可以帮您？", "zh")
        handoff.add_canned(s, alice, "Hello", "Hello, how can I help?", "en")
    with rt.services.db.session() as s:
        assert [n.text for n in handoff.notes(s, h.conversation_id)] == ["客户之前投诉过"]
        assert [c.title for c in handoff.canned_replies(s, "zh")] == ["问候"]
    # Notes never reach the customer.
    assert "客户之前投诉过" not in outbox_texts(rt)
    act(rt, handoff.close, h.id, bob)
    with pytest.raises(HandoffError, match="closed"):
        act(rt, handoff.reply, h.id, bob, "again")


def test_first_response_against_target_and_stats(rt):
    alice, bob = staff(rt, "alice"), staff(rt, "bob")
    say(rt, "营业时间", chat="c1")
    say(rt, "人工", chat="c1")
    say(rt, "人工", chat="c2")
    say(rt, "你好", chat="c3")
    h1, h2 = open_handoff(rt, "c1"), open_handoff(rt, "c2")
    act(rt, handoff.claim, h1.id, alice)
    act(rt, handoff.reply, h1.id, alice, "fast answer")
    act(rt, handoff.claim, h2.id, bob)
    with rt.services.db.session() as s:  # c2 waited ten minutes before bob answered
        s.execute(update(HandoffSession).where(HandoffSession.id == h2.id)
                  .values(clock_start=utcnow() - timedelta(minutes=10)))
    act(rt, handoff.reply, h2.id, bob, "slow answer")
    act(rt, handoff.close, h1.id, alice)
    with rt.services.db.session() as s:
        assert s.get(HandoffSession, h1.id).met_target is True
        assert s.get(HandoffSession, h2.id).met_target is False
        figures = handoff.stats(s, utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1))
    assert figures["handoffs"] == 2 and figures["conversations"] == 3
    assert figures["handoff_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["answered"] == 2 and figures["within_target"] == 1 and figures["within_target_rate"] == 0.5
    assert figures["by_reason"]["request"] == 2 and figures["active_now"] == 1 and figures["queue_now"] == 0
    per = {row["agent"]: row for row in figures["per_agent"]}
    assert per["Alice"]["claimed"] == 1 and per["Alice"]["closed"] == 1 and per["Alice"]["within_target"] == 1
    assert per["Bob"]["answered"] == 1 and per["Bob"]["within_target"] == 0
    assert per["Bob"]["first_response_avg_s"] >= 600
    assert figures["daily"][0]["handoffs"] == 2


def test_a_recorded_question_goes_live_when_staff_are_at_work(settings):
    rt = make_runtime(settings)
    try:
        say(rt, "我的申请什么时候办完")
        assert "暂时没有人工客服在线" in say(rt, "talk to a person").replies[0].text
        assert conversation(rt).mode == "bot"
        staff(rt, "alice")  # an agent comes on duty
        replies = say(rt, "转人工").replies
        assert "第 1 位" in replies[0].text
        h = open_handoff(rt)
        assert not h.after_hours and conversation(rt).mode == "human"
        with rt.services.db.session() as s:
            assert handoff.stats(s, utcnow() - timedelta(hours=1), utcnow())["after_hours"] == 0
    finally:
        rt.services.db.dispose()


def test_closing_an_unanswered_request_asks_for_no_rating(rt):
    agent = staff(rt, "alice")
    say(rt, "人工")
    h = open_handoff(rt)
    act(rt, handoff.close, h.id, agent)  # a duplicate, closed from the queue
    texts = outbox_texts(rt)
    assert "感谢您的耐心" in texts[-1] and not any("打分" in text for text in texts)
    assert conversation(rt).mode == "bot"


def test_the_platform_session_follows_the_handoff(rt):
    """The call site WeCom kf registers in: every change of status or agent, on its own channel only."""
    seen: list[tuple[str, int | None]] = []
    rt.services.platform_transfers = {
        "web": lambda session, conv, h: seen.append((h.status, h.agent_id))}
    alice, bob = staff(rt, "alice"), staff(rt, "bob")
    say(rt, "人工")
    h = open_handoff(rt)
    act(rt, handoff.claim, h.id, alice)
    act(rt, handoff.transfer, h.id, alice, bob.id)
    act(rt, handoff.release, h.id, bob)
    act(rt, handoff.claim, h.id, alice)
    act(rt, handoff.close, h.id, alice)
    assert seen == [("waiting", None), ("active", alice.id), ("active", bob.id), ("waiting", None),
                    ("active", alice.id), ("closed", alice.id)]
    rt.services.platform_transfers = {"wecom": lambda *a: seen.append(("wrong", None))}
    say(rt, "人工", chat="c2")
    assert len(seen) == 6


def test_commands_are_not_taken_for_the_question(rt):
    staff(rt, "alice")
    say(rt, "/start")
    say(rt, "转人工")
    assert open_handoff(rt).question == ""
