"""The rules on their own: the complaint transition table, the events a change publishes, the
notice a listener builds from them, and a rating asked once per subject."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from domain import complaints, ratings
from handlers.notices.complaints import replies
from storage.models import Conversation, Rating

from .test_complaint_chat import file_complaint
from .test_complaint_lifecycle import act

STAFF = complaints.Actor("staff", "agent1", 1)


def a_complaint(status: str) -> SimpleNamespace:
    return SimpleNamespace(ticket="TS261201-7KQ4", status=status, language="zh")


def stage_event(kind: type, action: str, **extra) -> complaints.ComplaintStageChanged:
    return kind(complaint_id=1, ticket="TS261201-7KQ4", action=action, from_status="resolved",
                to_status="follow_up", actor_kind="system", staff_id=None, **extra)


def test_a_disallowed_action_names_the_stages_it_needs_and_what_is_allowed_now():
    with pytest.raises(complaints.IllegalTransition) as refused:
        complaints.check(a_complaint("received"), "close", STAFF)
    assert "'close' is allowed only when it is follow_up" in str(refused.value)
    assert str(refused.value).endswith("allowed now: assign")
    assert complaints.check(a_complaint("follow_up"), "close", complaints.Actor("customer")).target == "closed"
    with pytest.raises(complaints.IllegalTransition, match="'follow_up' is not allowed now; allowed: reopen"):
        complaints.check(a_complaint("resolved"), "follow_up", complaints.Actor("customer"))  # staff's move
    with pytest.raises(complaints.InvalidRequest, match="unknown complaint action 'shred'"):
        complaints.check(a_complaint("received"), "shred", STAFF)
    assert complaints.LIFECYCLE.allowed("investigating") == ["assign", "resolve"]


def test_resolving_publishes_complaint_resolved_in_the_transaction(runtime, say, staff):
    heard: list[complaints.ComplaintStageChanged] = []
    runtime.services.events.subscribe(complaints.ComplaintStageChanged, lambda session, event: heard.append(event))
    ticket = file_complaint(say("alice"))
    act(runtime, ticket, "assign", staff["agent1"], staff_id=staff["agent1"])
    act(runtime, ticket, "start", staff["agent1"])
    act(runtime, ticket, "resolve", staff["agent1"], resolution="已致歉")
    assert [type(e) for e in heard] == [complaints.ComplaintStageChanged] * 2 + [complaints.ComplaintResolved]
    resolved = heard[-1]
    assert (resolved.ticket, resolved.resolution, resolved.from_status, resolved.to_status, resolved.staff_id) == (
        ticket, "已致歉", "investigating", "resolved", staff["agent1"])
    assert resolved.name == "complaint.resolved"


def test_the_listener_words_each_notice_and_owns_the_buttons():
    complaint = a_complaint("follow_up")
    (question,) = replies(complaint, stage_event(complaints.ComplaintFollowUpDue, "follow_up"))
    assert question.text == "回访：关于投诉 TS261201-7KQ4 的处理结果，您是否满意？"
    assert [(b.label, b.payload) for b in question.buttons] == [
        ("满意", "complaint:satisfied:TS261201-7KQ4:yes"), ("不满意", "complaint:satisfied:TS261201-7KQ4:no")]
    (resolved,) = replies(complaint, stage_event(complaints.ComplaintResolved, "resolve", resolution="已致歉"))
    assert resolved.text == "您的投诉 TS261201-7KQ4 已处理完毕。处理结果：已致歉" and resolved.buttons == []
    (assigned,) = replies(complaint, stage_event(complaints.ComplaintStageChanged, "assign"))
    assert assigned.text == "您的投诉 TS261201-7KQ4 已分派专人负责处理。"
    assert replies(complaint, stage_event(complaints.ComplaintFollowUpAnswered, "close", satisfied=True)) == []


def test_a_rating_is_asked_once_per_subject(runtime, say):
    say("carol")("你好")
    with runtime.services.db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        first = ratings.ask_once(s, runtime.services.settings, conversation, "handoff", 7, service=None)
        assert first is not None and first.status == "asked" and first.request_key == "handoff:7"
        assert ratings.ask_once(s, runtime.services.settings, conversation, "handoff", 7) is None
        assert ratings.ask_once(s, runtime.services.settings, conversation, "application", 7) is not None
        assert len(s.scalars(select(Rating)).all()) == 2
    with pytest.raises(ValueError):
        with runtime.services.db.session() as s:
            ratings.ask_once(s, runtime.services.settings, s.scalars(select(Conversation)).one(), "faq", 1)
