"""The handoff's events and the listeners that word them: the domain publishes inside the
transaction; handlers/notices/handoff.py decides what the customer reads."""
from __future__ import annotations

import pytest
from handoff_helpers import say, staff
from sqlalchemy import select

from domain import handoff
from domain.events import EventBus
from domain.handoff import (
    HandoffAnswered,
    HandoffChanged,
    HandoffClosed,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    HandoffTransferred,
    StaffMessage,
)
from handlers.base import menu_buttons
from handlers.i18n import t
from handlers.messages import Reply
from handlers.notices import handoff as notices
from storage.models import Conversation, HandoffSession, OutboxItem, Rating


def _handoff(rt, chat: str = "c1") -> HandoffSession:
    with rt.services.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == chat)).one()
        found = handoff.open_handoff(s, conversation.id)
        assert found is not None
        return found


def _outbox(rt) -> list[dict]:
    with rt.services.db.session() as s:
        return [i.payload for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_each_change_publishes_its_event_inside_the_transaction(rt):
    seen: list[tuple[HandoffChanged, str]] = []

    def spy(session, event: HandoffChanged) -> None:
        # The change is visible to the listener: it runs in the publisher's transaction.
        seen.append((event, session.get(HandoffSession, event.handoff_id).status))

    rt.services.events.subscribe(HandoffChanged, spy)
    alice, bob = staff(rt, "alice"), staff(rt, "bob")
    say(rt, "人工")
    h = _handoff(rt)
    with rt.services.db.session() as s:
        handoff.claim(s, rt.services, h.id, s.get(type(alice), alice.id))
        handoff.reply(s, rt.services, h.id, s.get(type(alice), alice.id), "您好")
        handoff.transfer(s, rt.services, h.id, s.get(type(alice), alice.id), bob.id)
        handoff.release(s, rt.services, h.id, s.get(type(bob), bob.id))
        handoff.close(s, rt.services, h.id, s.get(type(bob), bob.id))
    events = [event for event, _status in seen]
    assert [type(e) for e in events] == [HandoffOpened, HandoffTaken, HandoffAnswered, HandoffTransferred,
                                         HandoffReleased, HandoffClosed]
    assert [e.name for e in events] == ["handoff.opened", "handoff.taken", "handoff.answered", "handoff.transferred",
                                        "handoff.released", "handoff.closed"]
    assert [status for _event, status in seen] == ["waiting", "active", "active", "active", "waiting", "closed"]
    opened, taken, answered, moved, released, closed = events
    assert (answered.agent_id, answered.text, answered.attachment_ids, answered.via) == (alice.id, "您好", (), "console")
    assert (opened.reason, opened.after_hours) == ("request", False)
    assert (taken.agent_id, taken.agent_name) == (alice.id, "Alice")
    assert (moved.from_agent_id, moved.to_agent_id, moved.to_agent_name) == (alice.id, bob.id, "Bob")
    assert (released.from_agent_id, released.why) == (bob.id, "released")
    assert (closed.kind, closed.closed_by, closed.served_by, closed.answered) == ("closed", bob.id, alice.id, True)
    assert {e.handoff_id for e in events} == {h.id} and {e.conversation_id for e in events} == {h.conversation_id}


def test_a_cancelled_wait_is_closed_unanswered(rt):
    seen: list[HandoffClosed] = []
    rt.services.events.subscribe(HandoffClosed, lambda session, event: seen.append(event))
    staff(rt, "alice")
    say(rt, "人工")
    say(rt, "取消排队")
    assert [(e.kind, e.closed_by, e.answered) for e in seen] == [("cancelled", None, False)]


def test_the_domain_words_nothing_itself(rt):
    """With no listener on the bus, staff actions queue no notice; only the agent's own words."""
    rt.services.events = EventBus()
    alice = staff(rt, "alice")
    say(rt, "人工")
    before = len(_outbox(rt))
    h = _handoff(rt)
    with rt.services.db.session() as s:
        agent = s.get(type(alice), alice.id)
        handoff.claim(s, rt.services, h.id, agent)
        handoff.reply(s, rt.services, h.id, agent, "您好，我是 Alice")
        handoff.close(s, rt.services, h.id, agent)
    assert [p["text"] for p in _outbox(rt)[before:]] == ["您好，我是 Alice"]


def test_a_failing_listener_rolls_the_claim_back(rt):
    def broken(session, event) -> None:
        raise RuntimeError("notice could not be queued")

    rt.services.events.subscribe(HandoffTaken, broken)
    alice = staff(rt, "alice")
    say(rt, "人工")
    h = _handoff(rt)
    with pytest.raises(RuntimeError):
        with rt.services.db.session() as s:
            handoff.claim(s, rt.services, h.id, s.get(type(alice), alice.id))
    assert _handoff(rt).status == "waiting"


def test_the_close_listener_says_goodbye_with_the_menu_and_asks_for_a_rating(rt):
    alice = staff(rt, "alice")
    say(rt, "人工")
    h = _handoff(rt)
    before = len(_outbox(rt))
    with rt.services.db.session() as s:
        notices.closed(s, HandoffClosed(h.id, h.conversation_id, kind="handback",
                                        closed_by=alice.id, served_by=alice.id, answered=True), services=rt.services)
    bye, question = _outbox(rt)[before:]
    assert bye == {**Reply(t("handoff.handback_bye", "zh"), menu_buttons("zh")).to_dict(), "sender": "bot"}
    assert question["text"] == t("feedback.ask.handoff", "zh")
    assert [b["payload"].rsplit(":", 1)[1] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]
    with rt.services.db.session() as s:
        rating = s.scalars(select(Rating)).one()
        assert (rating.subject_type, rating.subject_id, rating.staff_id) == ("handoff", str(h.id), alice.id)


def test_the_close_listener_asks_no_rating_when_nobody_answered_and_nothing_on_cancel(rt):
    say(rt, "人工")
    h = _handoff(rt)
    before = len(_outbox(rt))
    with rt.services.db.session() as s:
        notices.closed(s, HandoffClosed(h.id, h.conversation_id, kind="cancelled",
                                        closed_by=None, served_by=None, answered=False), services=rt.services)
        notices.closed(s, HandoffClosed(h.id, h.conversation_id, kind="closed",
                                        closed_by=None, served_by=None, answered=False), services=rt.services)
    assert [p["text"] for p in _outbox(rt)[before:]] == [t("handoff.closed_bye", "zh")]
    with rt.services.db.session() as s:
        assert s.scalars(select(Rating)).first() is None


def test_the_take_and_queue_listeners_name_the_agent(rt):
    say(rt, "人工")
    h = _handoff(rt)
    before = len(_outbox(rt))
    with rt.services.db.session() as s:
        notices.agent_joined(s, HandoffTaken(h.id, h.conversation_id, agent_id=1, agent_name="Dana"), services=rt.services)
        notices.transferred(s, HandoffTransferred(h.id, h.conversation_id, from_agent_id=1,
                                                  to_agent_id=2, to_agent_name="Eve"), services=rt.services)
        notices.requeued(s, HandoffReleased(h.id, h.conversation_id, from_agent_id=2, why="idle"), services=rt.services)
    assert [p["text"] for p in _outbox(rt)[before:]] == [
        t("handoff.agent_joined", "zh", name="Dana"), t("handoff.transferred", "zh", name="Eve"),
        t("handoff.requeued", "zh")]


def test_an_agents_words_are_queued_in_the_reply_format():
    assert StaffMessage("您好").to_dict() == Reply("您好").to_dict()
