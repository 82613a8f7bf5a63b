"""Labels from the desk's own traffic, and the console's suggestions made from them, on both databases
(stand-in knowledge over a copy of the sample folder)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import Runtime
from bot.config import SAMPLE_KNOWLEDGE_DIR, Settings
from bot.web.app import create_app
from domain.labels import desk_labels
from domain.questions import answer_recorded
from domain.staff import add_staff
from knowledge.loader import load
from storage.models import HandoffSession, KnowledgeLabel, KnowledgeQuestion, OutboxItem
from tests.console_helpers import console_login, csrf_of
from tests.testbot import Customer, build_runtime

PASSWORD = "password-123"


@pytest.fixture
def rt(settings: Settings, tmp_path) -> Iterator[Runtime]:
    kb = tmp_path / "kb"
    shutil.copytree(SAMPLE_KNOWLEDGE_DIR, kb)
    runtime = build_runtime(settings.model_copy(update={"knowledge_dir": kb, "handoff_hours": "always"}))
    with runtime.services.db.session() as s:
        for name, role in (("carl", "content_manager"), ("alice", "agent")):
            add_staff(s, name, PASSWORD, role, name.title())
    yield runtime
    runtime.services.db.dispose()


def client_for(rt: Runtime, username: str) -> TestClient:
    client = TestClient(create_app(rt, start_workers=False))
    assert console_login(client, username, PASSWORD).status_code == 303
    return client


def question(rt: Runtime, text: str) -> KnowledgeQuestion:
    with rt.services.db.session() as s:
        return s.scalars(select(KnowledgeQuestion).where(KnowledgeQuestion.text == text)).one()


def by_source(rt: Runtime) -> dict[str, list]:
    with rt.services.db.session() as s:
        found: dict[str, list] = {}
        for label in desk_labels(s):
            found.setdefault(label.source, []).append(label)
        return found


def test_customers_and_staff_answers_label_questions(rt):
    me = Customer(rt, "c1")
    offered = me.send("办公时间")  # part of a phrasing: "did you mean"
    pick = next(b.payload for b in offered[0].buttons if b.payload.startswith("faq:pick:"))
    picked = pick.split(":")[3]
    me.send(button=pick)
    me.send(button=f"feedback:faq:up:{question(rt, '办公时间').id}:{picked}")
    me.send("办事大厅的办公时间是什么？")  # a phrasing: answered
    me.send(button=f"feedback:faq:down:{question(rt, '办事大厅的办公时间是什么？').id}:hall-hours")
    me.send("推荐一部好看的电影吧")  # declined: waits for staff
    with rt.services.db.session() as s:
        answer_recorded(
            s,
            rt.services.events,
            question(rt, "推荐一部好看的电影吧").id,
            "我们不提供影视推荐。",
            staff_id=1,
            entry_id="talk-to-human",
        )
    found = by_source(rt)
    assert {k: [(x.text, x.entry_id, x.fits) for x in v] for k, v in found.items()} == {
        "pick": [("办公时间", picked, True)],  # the vote on the same answer says the same once
        "not_helpful": [("办事大厅的办公时间是什么？", "hall-hours", False)],
        "staff_answer": [("推荐一部好看的电影吧", "talk-to-human", True)],
    }
    assert found["pick"][0].who.startswith("customer:") and found["staff_answer"][0].who == "staff:1"
    me.send(button=f"feedback:faq:down:{question(rt, '办公时间').id}:{picked}")  # changed their mind
    assert ("办公时间", picked, False) in [(x.text, x.entry_id, x.fits) for x in by_source(rt)["not_helpful"]]
    assert "pick" not in by_source(rt)
    me.send("周末可以去现场办理吗？")
    me.send(button=f"feedback:faq:up:{question(rt, '周末可以去现场办理吗？').id}:hall-hours")
    assert [(x.text, x.entry_id, x.fits) for x in by_source(rt)["helpful"]] == [
        ("周末可以去现场办理吗？", "hall-hours", True)
    ]


def test_try_a_question_and_a_handoff_label_questions(rt):
    carl = client_for(rt, "carl")
    page = carl.get("/console/knowledge/try", params={"q": "办公时间"}).text
    assert 'id="label-form"' in page
    saved = carl.post(
        "/console/knowledge/try/label",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "q": "办公时间", "entry_id": "hall-hours"},
    )
    assert saved.status_code == 303 and "labelled=hall-hours" in saved.headers["location"]
    assert "hall-hours" in carl.get(saved.headers["location"]).text
    carl.post("/console/knowledge/try/label", data={"csrf_token": csrf_of(page), "q": "推荐电影", "entry_id": "none"})
    wrong = carl.post(
        "/console/knowledge/try/label",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "q": "x", "entry_id": "no-such-entry"},
    )
    assert "label_error=not_found" in wrong.headers["location"]
    agent = client_for(rt, "alice")
    assert agent.get("/console/knowledge/try", params={"q": "办公时间"}).status_code == 200
    assert 'id="label-form"' not in agent.get("/console/knowledge/try", params={"q": "办公时间"}).text

    me = Customer(rt, "c2")
    me.send("我的证件什么时候能拿到")
    me.send(button="handoff:request")
    with rt.services.db.session() as s:
        handoff = s.scalars(select(HandoffSession)).one()
    page = agent.get(f"/console/conversations/{handoff.conversation_id}").text
    agent.post(f"/console/handoffs/{handoff.id}/claim", data={"csrf_token": csrf_of(page)})
    page = agent.get(f"/console/conversations/{handoff.conversation_id}").text
    assert 'id="send-entry"' in page
    bad = agent.post(
        f"/console/handoffs/{handoff.id}/entry",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "entry": "no-such-entry"},
    )
    assert "error=no_entry" in bad.headers["location"]
    agent.post(f"/console/handoffs/{handoff.id}/entry", data={"csrf_token": csrf_of(page), "entry": "hall-hours"})
    kb = rt.services.knowledge
    with rt.services.db.session() as s:
        sent = s.scalars(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
        assert sent.payload["text"] == kb.answer_text(kb.entry("hall-hours"), "zh")
    with rt.services.db.session() as s:
        stored = s.scalars(select(KnowledgeLabel).where(KnowledgeLabel.source == "handoff")).one()
        assert stored.customer_id == handoff.customer_id  # the customer's words: found by their export or erasure
    found = by_source(rt)
    assert [(x.text, x.entry_id, x.who) for x in found["try"]] == [
        ("办公时间", "hall-hours", "staff:1"),
        ("推荐电影", None, "staff:1"),
    ]
    assert [(x.text, x.entry_id, x.who) for x in found["handoff"]] == [
        ("我的证件什么时候能拿到", "hall-hours", "staff:2")
    ]


def test_suggestions_page_lists_alternates_and_new_entries_and_accepts_one(rt):
    for chat in ("c1", "c2"):
        me = Customer(rt, chat)
        offered = me.send("办公时间")
        me.send(button=next(b.payload for b in offered[0].buttons if b.payload.endswith(":hall-hours")))
    for text in ("推荐一部好看的电影吧", "推荐一部好看的电影", "推荐好看的电影吧", "我家的猫不吃饭"):
        Customer(rt, "c3").send(text)
    carl = client_for(rt, "carl")
    page = carl.get("/console/knowledge/suggestions").text
    alternates = page.split('id="alternates"')[1].split("</table>")[0]
    assert "办公时间" in alternates and "<td>2</td>" in alternates
    new_entries = page.split('id="new-entries"')[1].split("</table>")[0]
    rows = new_entries.split("<tr>")[2:]
    assert "<td>3</td>" in rows[0] and "推荐一部好看的电影吧" in rows[0] and "猫" not in rows[0]
    assert "<td>1</td>" in rows[1] and "我家的猫不吃饭" in rows[1]
    assert client_for(rt, "alice").get("/console/knowledge/suggestions").status_code == 403

    done = carl.post(
        "/console/knowledge/suggestions/alternate",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "entry_id": "hall-hours", "text": "办公时间"},
    )
    assert done.status_code == 303 and "accepted=hall-hours" in done.headers["location"]
    entries, problems = load(rt.services.settings.knowledge_dir)
    assert not [p for p in problems if p.level == "error"]
    assert "办公时间" in next(e for e in entries if e.id == "hall-hours").alternates
    missing = carl.post(
        "/console/knowledge/suggestions/alternate",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "entry_id": "no-such-entry", "text": "x"},
    )
    assert "error=not_found" in missing.headers["location"]


def test_staff_answer_a_waiting_question_with_an_existing_entry(rt):
    Customer(rt, "c1").send("推荐一部好看的电影吧")
    Customer(rt, "c2").send("推荐一部好看的电影吧！")
    carl = client_for(rt, "carl")
    page = carl.get("/console/knowledge/unanswered").text
    assert 'action="/console/knowledge/unanswered/answer"' in page
    missing = carl.post(
        "/console/knowledge/unanswered/answer",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "question": "推荐一部好看的电影吧", "entry_id": "nope"},
    )
    assert "error=not_found" in missing.headers["location"]
    done = carl.post(
        "/console/knowledge/unanswered/answer",
        follow_redirects=False,
        data={"csrf_token": csrf_of(page), "question": "推荐一部好看的电影吧", "entry_id": "talk-to-human"},
    )
    assert done.headers["location"].endswith("answered=2")
    kb = rt.services.knowledge
    with rt.services.db.session() as s:
        texts = [o.payload.get("text", "") for o in s.scalars(select(OutboxItem).where(OutboxItem.chat_id == "c2"))]
    assert any(kb.answer_text(kb.entry("talk-to-human"), "zh") in t for t in texts)
    assert [(x.text, x.entry_id, x.who) for x in by_source(rt)["staff_answer"]] == [
        ("推荐一部好看的电影吧", "talk-to-human", "staff:1"),
        ("推荐一部好看的电影吧！", "talk-to-human", "staff:1"),
    ]
