"""Automatic assignment (BOT_HANDOFF_AUTO_ASSIGN) on SQLite and PostgreSQL: fewest open first,
round robin among equals, the per-agent limit, the queue when all are full, reassignment when an
agent goes off duty or idles, and two handoffs racing for the last free place."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from handoff_helpers import PASSWORD, make_runtime, say, staff
from sqlalchemy import select, update

from bot.web.app import create_app
from domain import handoff
from storage.models import Conversation, HandoffEvent, HandoffSession, Job, OutboxItem, StaffUser, utcnow
from tests.console_helpers import console_login


@pytest.fixture
def auto(settings):
    rt = make_runtime(settings, handoff_auto_assign=True, handoff_agent_limit=1)
    yield rt
    rt.services.db.dispose()


def state(rt, chat: str) -> tuple[str, int | None]:
    with rt.services.db.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.chat_id == chat)).one()
        found = s.scalars(select(HandoffSession).where(HandoffSession.conversation_id == conversation_id)
                          .order_by(HandoffSession.id.desc())).first()
        return found.status, found.agent_id


def handoff_id(rt, chat: str) -> int:
    with rt.services.db.session() as s:
        return s.scalars(select(HandoffSession.id).join(Conversation)
                         .where(Conversation.chat_id == chat).order_by(HandoffSession.id.desc())).first()


def close(rt, chat: str, agent: StaffUser) -> None:
    with rt.services.db.session() as s:
        handoff.close(s, rt.services, handoff_id(rt, chat), s.get(StaffUser, agent.id))


def test_off_keeps_the_pull_queue(settings):
    rt = make_runtime(settings)
    staff(rt, "alice")
    say(rt, "人工")
    assert state(rt, "c1") == ("waiting", None)
    rt.services.db.dispose()


def test_fewest_open_first_and_round_robin_among_equals(settings):
    rt = make_runtime(settings, handoff_auto_assign=True, handoff_agent_limit=3)
    alice, bob = staff(rt, "alice"), staff(rt, "bob")
    replies = say(rt, "人工", chat="c1").replies
    assert state(rt, "c1") == ("active", alice.id)  # equal loads, nobody assigned yet: the lower id
    assert not any("第 1 位" in r.text for r in replies)  # no queue position: an agent has it already
    with rt.services.db.session() as s:
        texts = [i.payload["text"] for i in s.scalars(select(OutboxItem).where(OutboxItem.chat_id == "c1"))]
    assert any("Alice" in text for text in texts)  # the HandoffTaken notice names the agent
    say(rt, "人工", chat="c2")
    assert state(rt, "c2") == ("active", bob.id)  # bob has fewer open
    close(rt, "c1", alice)
    close(rt, "c2", bob)
    say(rt, "人工", chat="c3")
    assert state(rt, "c3") == ("active", alice.id)  # equal again: alice was assigned longest ago
    say(rt, "人工", chat="c4")
    assert state(rt, "c4") == ("active", bob.id)
    close(rt, "c3", alice)
    close(rt, "c4", bob)
    say(rt, "人工", chat="c5")
    assert state(rt, "c5") == ("active", alice.id)
    with rt.services.db.session() as s:
        kinds = list(s.scalars(select(HandoffEvent.kind).where(HandoffEvent.kind == "assigned")))
    assert len(kinds) == 5
    rt.services.db.dispose()


def test_all_full_waits_and_a_freed_place_fills_from_the_queue(auto):
    alice = staff(auto, "alice")
    say(auto, "人工", chat="c1")
    queued = say(auto, "人工", chat="c2").replies
    assert state(auto, "c1") == ("active", alice.id)
    assert state(auto, "c2") == ("waiting", None)
    assert "第 1 位" in queued[0].text
    close(auto, "c1", alice)
    assert auto.jobs.run_due() == 1  # the balance job
    assert state(auto, "c2") == ("active", alice.id)


def test_going_off_duty_hands_the_conversations_on(auto):
    alice = staff(auto, "alice")
    say(auto, "人工", chat="c1")
    bob = staff(auto, "bob")
    assert state(auto, "c1") == ("active", alice.id)
    with auto.services.db.session() as s:
        handoff.set_on_duty(s, auto.services, s.get(StaffUser, alice.id), False)
    assert auto.jobs.run_due() == 1
    assert state(auto, "c1") == ("active", bob.id)
    with auto.services.db.session() as s:
        why = s.scalars(select(HandoffEvent.detail).where(HandoffEvent.kind == "requeued")).one()["why"]
    assert why == "off_duty"


def test_going_on_duty_takes_from_the_queue(auto):
    alice = staff(auto, "alice", on_duty=False)
    staff(auto, "bob")
    say(auto, "人工", chat="c1")
    say(auto, "人工", chat="c2")
    assert state(auto, "c2") == ("waiting", None)
    with auto.services.db.session() as s:
        handoff.set_on_duty(s, auto.services, s.get(StaffUser, alice.id), True)
    assert auto.jobs.run_due() == 1
    assert state(auto, "c2") == ("active", alice.id)


def test_an_idle_agent_loses_the_conversation_to_another(auto):
    alice, bob = staff(auto, "alice"), staff(auto, "bob")
    say(auto, "人工", chat="c1")
    assert state(auto, "c1") == ("active", alice.id)
    say(auto, "在吗", chat="c1")  # unanswered: the idle clock runs
    past = utcnow() - timedelta(minutes=11)
    h = handoff_id(auto, "c1")
    with auto.services.db.session() as s:
        s.execute(update(HandoffSession).where(HandoffSession.id == h).values(claimed_at=past, awaiting_since=past))
        s.execute(update(Job).where(Job.dedupe_key == f"handoff-idle:{h}").values(run_at=past))
    assert auto.jobs.run_due() == 1
    assert state(auto, "c1") == ("active", bob.id)  # never back to the idle agent


def test_two_handoffs_racing_for_the_last_place(auto):
    staff(auto, "alice")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def ask(chat: str) -> None:
        barrier.wait()
        try:
            say(auto, "人工", chat=chat)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(chat,)) for chat in ("c1", "c2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(state(auto, chat)[0] for chat in ("c1", "c2")) == ["active", "waiting"]
    with auto.services.db.session() as s:
        assert list(handoff.agent_loads(s).values()) == [1]


def test_supervisor_sees_each_agents_load(sqlite_settings, tmp_path):
    rt = make_runtime(sqlite_settings, knowledge_dir=tmp_path / "kb", handoff_auto_assign=True,
                      handoff_agent_limit=2)
    staff(rt, "alice")
    staff(rt, "bob", on_duty=False)
    staff(rt, "sue", role="supervisor", on_duty=False)
    say(rt, "人工", chat="c1")
    client = TestClient(create_app(rt, start_workers=False))
    assert console_login(client, "sue", PASSWORD).status_code == 303
    page = client.get("/console/queue").text
    table = page[page.index('id="agent-load"'):]
    assert table.index("Alice") < table.index("Bob")  # on duty first
    alice_row = table[table.index("Alice"):table.index("Bob")]
    assert '<td class="load-open">1</td>' in alice_row and "<td>2</td>" in alice_row
    client_agent = TestClient(create_app(rt, start_workers=False))
    assert console_login(client_agent, "alice", PASSWORD).status_code == 303
    assert 'id="agent-load"' not in client_agent.get("/console/queue").text
    rt.services.db.dispose()
