"""Conversation search on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): each filter alone and
together, the index kept in step with new messages, and the console page (phones masked by role)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from handoff_helpers import PASSWORD, make_runtime, say, staff
from sqlalchemy import select, update

from bot.web.app import create_app
from domain import handoff
from domain.handoff.search import ConversationQuery, search_conversations
from storage.models import Application, Complaint, Conversation, Customer, Message, StaffUser, utcnow
from tests.console_helpers import console_login
from tests.testbot import Customer as Chat


def _customer(rt, chat: str, name: str, phone: str | None) -> Customer:
    with rt.services.db.session() as s:
        s.execute(update(Customer).where(Customer.external_id == chat).values(display_name=name, phone=phone))
        return s.scalars(select(Customer).where(Customer.external_id == chat)).one()


@pytest.fixture
def desk(settings, tmp_path):
    """Three web customers and one on Telegram, one handed to staff, one with an application and a complaint."""
    rt = make_runtime(settings, knowledge_dir=tmp_path / "kb")
    say(rt, "我的社保卡丢了怎么补办", chat="c1")
    say(rt, "Where do I renew my passport?", chat="c2")
    say(rt, "营业时间是几点", chat="c3")
    say(rt, "人工", chat="c3")
    Chat(rt, "t4", channel="telegram").say("社保转移 100%_done")
    zhang = _customer(rt, "c1", "张三", "13800138000")
    _customer(rt, "c2", "Li Si", "13912345678")
    _customer(rt, "c3", "王五", None)
    with rt.services.db.session() as s:
        c1 = s.scalars(select(Conversation).where(Conversation.chat_id == "c1")).one()
        s.add(Application(reference="SB-20261201-0001", service_id="social", customer_id=zhang.id, stage="received"))
        s.add(Complaint(ticket="TS20261201-ABCD", customer_id=zhang.id, conversation_id=c1.id, category="delay",
                        description="太慢"))
    yield rt
    rt.services.db.dispose()


def chats(rt, **filters) -> list[str]:
    with rt.services.db.session() as s:
        return sorted(h.conversation.chat_id for h in search_conversations(s, ConversationQuery(**filters)))


def test_each_filter(desk):
    assert chats(desk, text="社保") == ["c1", "t4"]  # two characters: below a trigram
    assert chats(desk, text="社保卡丢了") == ["c1"]
    assert chats(desk, text="PASSPORT") == ["c2"]  # any case
    assert chats(desk, text="100%_") == ["t4"]  # % and _ are literal
    assert chats(desk, text="100%x") == []
    assert chats(desk, name="张") == ["c1"]
    assert chats(desk, name="li si") == ["c2"]
    assert chats(desk, phone="138 0013") == ["c1"]
    assert chats(desk, phone="5678") == ["c2"]
    assert chats(desk, number="SB-20261201-0001") == ["c1"]
    assert chats(desk, number="ts20261201-abcd") == ["c1"]
    assert chats(desk, channel="telegram") == ["t4"]
    assert chats(desk, status="waiting") == ["c3"]
    assert chats(desk, status="none") == ["c1", "c2", "t4"]
    assert chats(desk) == []  # no filter: no results, not the whole table


def test_filters_combine_and_dates_bound_the_messages(desk):
    assert chats(desk, text="社保", channel="web") == ["c1"]
    now = utcnow()
    assert chats(desk, text="社保", since=now - timedelta(hours=1), until=now + timedelta(hours=1)) == ["c1", "t4"]
    assert chats(desk, text="社保", since=now + timedelta(hours=1)) == []
    with desk.services.db.session() as s:  # c2's messages were last week
        s.execute(update(Message).where(Message.conversation_id == select(Conversation.id).where(
            Conversation.chat_id == "c2").scalar_subquery()).values(created_at=now - timedelta(days=7)))
    assert chats(desk, since=now - timedelta(days=1)) == ["c1", "c3", "t4"]
    assert chats(desk, until=now - timedelta(days=1)) == ["c2"]


def test_new_messages_are_found_at_once_and_status_follows_the_handoff(desk):
    agent = staff(desk, "alice")
    say(desk, "还要带户口本吗", chat="c3")
    assert chats(desk, text="户口本") == ["c3"]
    assert chats(desk, text="要带户口") == ["c3"]
    with desk.services.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == "c3")).one()
        h = handoff.open_handoff(s, conversation.id)
        handoff.claim(s, desk.services, h.id, s.get(StaffUser, agent.id))
    assert chats(desk, status="active") == ["c3"]
    with desk.services.db.session() as s:
        handoff.close(s, desk.services, h.id, s.get(StaffUser, agent.id))
    assert chats(desk, status="closed") == ["c3"] and chats(desk, status="waiting") == []


def test_bad_status_is_refused():
    with pytest.raises(ValueError, match="unknown handoff status"):
        ConversationQuery(status="lost")


def test_console_search_page_masks_phones_for_agents(desk):
    staff(desk, "alice")
    staff(desk, "sue", role="supervisor")
    agent, boss = (TestClient(create_app(desk, start_workers=False)) for _ in range(2))
    assert console_login(agent, "alice", PASSWORD).status_code == 303
    assert console_login(boss, "sue", PASSWORD).status_code == 303
    page = agent.get("/console/search", params={"text": "社保卡"}).text
    results = page[page.index('id="search-results"'):]
    assert "张三" in results and "138****8000" in results and "13800138000" not in results
    assert "/console/conversations/" in results and "社保卡丢了" in results
    assert "13800138000" in boss.get("/console/search", params={"phone": "13800138000"}).text
    bad = agent.get("/console/search", params={"since": "2026-13-40"})
    assert bad.status_code == 400 and "日期或状态格式不正确" in bad.text
    assert "/console/search" in agent.get("/console/queue").text  # in the navigation
