"""The console pages over HTTP: queue, conversation actions, roles, knowledge, dashboard, staff."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from handoff_helpers import PASSWORD, make_runtime, say, staff
from sqlalchemy import select

from bot.web.app import create_app
from storage.models import Application, Conversation, HandoffSession, Rating, StaffUser, utcnow
from tests.console_helpers import Answer, Hit, console_login, csrf_of


@pytest.fixture
def app_rt(sqlite_settings, tmp_path):
    rt = make_runtime(sqlite_settings, knowledge_dir=tmp_path / "kb")
    yield rt
    rt.services.db.dispose()


def client_for(rt, username: str | None = None) -> TestClient:
    client = TestClient(create_app(rt, start_workers=False))
    if username:
        assert console_login(client, username, PASSWORD).status_code == 303
    return client


def token(client, path: str) -> str:
    return csrf_of(client.get(path).text)


def test_agent_takes_replies_and_hands_back_through_the_console(app_rt):
    staff(app_rt, "alice")
    customer = client_for(app_rt)
    sid = "web-customer-01-5e8a1c3f9b7d20463ac9"
    customer.post("/api/chat", json={"session_id": sid, "text": "社保卡怎么补办"})
    customer.post("/api/chat", json={"session_id": sid, "text": "转人工"})

    agent = client_for(app_rt, "alice")
    state = agent.get("/console/api/queue").json()
    [item] = state["waiting"]
    assert item["question"] == "社保卡怎么补办" and item["reason"] == "客户要求" and state["mine"] == []
    page = agent.get("/console/queue").text
    embedded = json.loads(page.split('<script id="queue-state" type="application/json">', 1)[1].split("</script>")[0])
    assert embedded["waiting"][0]["question"] == "社保卡怎么补办"

    csrf = token(agent, "/console/queue")
    taken = agent.post(f"/console/handoffs/{item['id']}/claim", data={"csrf_token": csrf}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == item["url"]
    page = agent.get(item["url"]).text
    assert "社保卡怎么补办" in page and 'id="send"' in page
    agent.post(f"/console/handoffs/{item['id']}/reply", data={"csrf_token": csrf, "text": "请带身份证到大厅。"})
    agent.post(f"/console/conversations/{item['conversation_id']}/notes",
               data={"csrf_token": csrf, "text": "老客户"})
    assert "老客户" in agent.get(item["url"]).text

    got = customer.get("/api/chat/messages", params={"session_id": sid}).json()["messages"]
    assert [m["text"] for m in got][-2:] == ["客服 Alice 已接入，正在为您服务。", "请带身份证到大厅。"]
    assert "老客户" not in str(got)

    customer.post("/api/chat", json={"session_id": sid, "text": "好的谢谢"})
    new = agent.get(f"/console/api/conversations/{item['conversation_id']}/messages",
                    params={"after": got[-1]["id"]}).json()
    assert new["status"] == "active" and new["messages"][-1]["text"] == "好的谢谢"
    assert agent.get("/console/api/queue").json()["mine"][0]["awaiting_s"] is not None

    agent.post(f"/console/handoffs/{item['id']}/handback", data={"csrf_token": csrf})
    with app_rt.services.db.session() as s:
        assert s.scalars(select(Conversation)).one().mode == "bot"
    assert customer.post("/api/chat", json={"session_id": sid, "text": "/menu"}).json()["replies"]


def test_second_agent_is_told_the_conversation_was_taken(app_rt):
    staff(app_rt, "alice"), staff(app_rt, "bob")
    say(app_rt, "人工")
    with app_rt.services.db.session() as s:
        handoff_id = s.scalars(select(HandoffSession)).one().id
    alice, bob = client_for(app_rt, "alice"), client_for(app_rt, "bob")
    alice.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": token(alice, "/console/queue")})
    late = bob.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": token(bob, "/console/queue")})
    assert "已被其他客服接入" in late.text
    assert bob.post(f"/console/handoffs/{handoff_id}/claim", data={}).status_code == 403  # no CSRF token


def test_duty_toggle_feeds_the_queue(app_rt):
    staff(app_rt, "alice", on_duty=False)
    agent = client_for(app_rt, "alice")
    agent.post("/console/duty", data={"csrf_token": token(agent, "/console/queue"), "on": "1"})
    assert agent.get("/console/api/queue").json()["agents_on_duty"] == 1
    assert "第 1 位" in say(app_rt, "人工").replies[0].text


@pytest.mark.parametrize("path", ["/console/queue", "/console/knowledge", "/console/dashboard", "/console/staff",
                                  "/console/api/queue", "/console/knowledge/new"])
def test_anonymous_gets_the_login_page(app_rt, path):
    response = client_for(app_rt).get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")


@pytest.mark.parametrize("username, role, path, status", [
    ("rita", "reviewer", "/console/knowledge/new", 403),
    ("rita", "reviewer", "/console/knowledge", 403),
    ("rita", "reviewer", "/console/queue", 403),
    ("alice", "agent", "/console/knowledge/new", 403),
    ("alice", "agent", "/console/dashboard", 403),
    ("alice", "agent", "/console/staff", 403),
    ("carl", "content_manager", "/console/knowledge/new", 200),
    ("carl", "content_manager", "/console/queue", 403),
    ("sue", "supervisor", "/console/dashboard", 200),
    ("sue", "supervisor", "/console/staff", 403),
    ("ada", "admin", "/console/staff", 200),
])
def test_every_page_checks_the_role(app_rt, username, role, path, status):
    staff(app_rt, username, role=role)
    assert client_for(app_rt, username).get(path, headers={"accept": "text/html"}).status_code == status


class FakeKnowledge:
    """The KnowledgeRuntime contract, with two entries."""

    entries = [{"id": "hours", "question": "营业时间是几点", "alternates": ["几点开门"], "answer": "9:00-17:00",
                "lang": "zh", "tags": ["通用"]},
               {"id": "id-card", "question": "身份证怎么补办", "alternates": [], "answer": "带户口本", "lang": "zh",
                "tags": []}]

    def ask(self, text, lang=None):
        return Answer("suggest", 0.42, [Hit("hours", 0.42, "营业时间是几点"), Hit("id-card", 0.11, "身份证怎么补办")])

    def entry(self, entry_id):
        return next((e for e in self.entries if e["id"] == entry_id), None)


def test_knowledge_pages_say_when_not_loaded(app_rt):
    app_rt.services.knowledge = None
    staff(app_rt, "alice")
    agent = client_for(app_rt, "alice")
    assert "知识库未加载" in agent.get("/console/knowledge").text
    assert "知识库未加载" in agent.get("/console/knowledge/try", params={"q": "x"}).text


def test_try_a_question_shows_hits_scores_and_decision(app_rt):
    app_rt.services.knowledge = FakeKnowledge()
    staff(app_rt, "alice")
    agent = client_for(app_rt, "alice")
    page = agent.get("/console/knowledge/try", params={"q": "几点开门"}).text
    assert "提供候选" in page and "0.420" in page and "0.110" in page and "身份证怎么补办" in page
    listing = agent.get("/console/knowledge", params={"q": "开门"}).text
    assert "营业时间是几点" in listing and "身份证怎么补办" not in listing
    assert "9:00-17:00" in agent.get("/console/knowledge/entries/hours").text


def test_unanswered_question_becomes_an_entry_file(app_rt):
    app_rt.services.knowledge = FakeKnowledge()
    staff(app_rt, "alice"), staff(app_rt, "carl", role="content_manager")
    say(app_rt, "hello")
    with app_rt.services.db.session() as s:
        from domain.handoff import enqueue_handoff

        enqueue_handoff(s, app_rt.services, s.scalars(select(Conversation)).one(), "low_confidence", "公积金怎么提取")
    editor = client_for(app_rt, "carl")
    listing = editor.get("/console/knowledge/unanswered").text
    assert "公积金怎么提取" in listing and "/console/knowledge/new?question=" in listing
    form = editor.get("/console/knowledge/new", params={"question": "公积金怎么提取"}).text
    assert 'value="公积金怎么提取"' in form
    data = {"csrf_token": csrf_of(form), "id": "housing-fund-withdraw", "question": "公积金怎么提取",
            "alternates": "提取公积金\n公积金提取流程", "answer": "携带身份证到公积金中心办理。", "lang": "zh",
            "tags": "公积金, 提取"}
    saved = editor.post("/console/knowledge/new", data=data, follow_redirects=False)
    assert saved.status_code == 303
    written = yaml.safe_load((app_rt.services.settings.knowledge_dir / "console" / "housing-fund-withdraw.yaml")
                             .read_text(encoding="utf-8"))
    assert written == {"entries": [{"id": "housing-fund-withdraw", "question": "公积金怎么提取",
                                    "alternates": ["提取公积金", "公积金提取流程"], "answer": "携带身份证到公积金中心办理。",
                                    "lang": "zh", "tags": ["公积金", "提取"]}]}
    again = editor.post("/console/knowledge/new", data=data)
    assert again.status_code == 400 and "编号已存在" in again.text
    clash = editor.post("/console/knowledge/new", data={**data, "id": "hours"})
    assert clash.status_code == 400
    bad = editor.post("/console/knowledge/new", data={**data, "id": "../../etc/passwd"})
    assert bad.status_code == 400 and "编号只能包含" in bad.text


def test_dashboard_and_csv_exports(app_rt):
    alice = staff(app_rt, "alice")
    staff(app_rt, "sue", role="supervisor")
    say(app_rt, "人工", chat="c1")
    say(app_rt, "人工", chat="c2")
    with app_rt.services.db.session() as s:
        from domain import handoff

        first = s.scalars(select(HandoffSession).order_by(HandoffSession.id)).first()
        handoff.claim(s, app_rt.services, first.id, s.get(StaffUser, alice.id))
        handoff.reply(s, app_rt.services, first.id, s.get(StaffUser, alice.id), "hi")
    boss = client_for(app_rt, "sue")
    page = boss.get("/console/dashboard", params={"days": 7}).text
    assert "<svg" in page and "转人工率" in page and "Alice" in page
    summary = boss.get("/console/dashboard/handoff/summary.csv", params={"days": 30})
    assert summary.headers["content-type"].startswith("text/csv")
    rows = dict(csv.reader(io.StringIO(summary.text.lstrip("\ufeff"))))
    assert rows["handoffs"] == "2" and rows["queue_now"] == "1" and rows["answered"] == "1"
    per_agent = list(csv.DictReader(io.StringIO(boss.get("/console/dashboard/handoff/per_agent.csv").text.lstrip("\ufeff"))))
    assert per_agent[0]["agent"] == "Alice" and per_agent[0]["claimed"] == "1"
    assert boss.get("/console/dashboard/handoff/nothing.csv").status_code == 404
    assert boss.get("/console/dashboard", params={"days": 5}).status_code == 400


def test_admin_disables_an_account_and_its_session_ends(app_rt):
    staff(app_rt, "ada", role="admin")
    bob = staff(app_rt, "bob")
    bob_client = client_for(app_rt, "bob")
    assert bob_client.get("/console/queue").status_code == 200
    admin = client_for(app_rt, "ada")
    admin.post(f"/console/staff/{bob.id}/active", data={"csrf_token": token(admin, "/console/staff"), "active": "0"})
    assert bob_client.get("/console/queue", follow_redirects=False).status_code == 303
    assert console_login(client_for(app_rt), "bob", PASSWORD).status_code == 401
    with app_rt.services.db.session() as s:
        assert s.get(StaffUser, bob.id).on_duty is False
    admin.post("/console/staff", data={"csrf_token": token(admin, "/console/staff"), "username": "newbie",
                                       "display_name": "New", "role": "agent", "password": "longenough1"})
    assert console_login(client_for(app_rt), "newbie", "longenough1").status_code == 303
    refused = admin.post("/console/staff", data={"csrf_token": token(admin, "/console/staff"), "username": "x",
                                                 "role": "agent", "password": "short"})
    assert refused.status_code == 400


def test_change_own_password(app_rt):
    staff(app_rt, "alice")
    agent = client_for(app_rt, "alice")
    other_device = client_for(app_rt, "alice")
    csrf = token(agent, "/console/password")
    wrong = agent.post("/console/password", data={"csrf_token": csrf, "current": "nope", "new": "brand-new-pass",
                                                  "repeat": "brand-new-pass"})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    changed = agent.post("/console/password", data={"csrf_token": csrf, "current": "password-123",
                                                    "new": "brand-new-pass", "repeat": "brand-new-pass"})
    assert "密码已修改" in changed.text
    assert agent.get("/console/queue").status_code == 200  # this session continues
    assert other_device.get("/console/queue", follow_redirects=False).status_code == 303  # the other one ended
    assert console_login(client_for(app_rt), "alice", "brand-new-pass").status_code == 303


def test_canned_replies_and_every_page_in_english(app_rt):
    app_rt.services.knowledge = FakeKnowledge()
    staff(app_rt, "alice"), staff(app_rt, "sue", role="supervisor"), staff(app_rt, "ada", role="admin")
    boss = client_for(app_rt, "sue")
    boss.post("/console/canned", data={"csrf_token": token(boss, "/console/canned"), "title": "Greeting",
                                       "text": "Hello, how can I help?", "language": "en"})
    agent = client_for(app_rt, "alice")
    page = agent.get("/console/canned").text
    assert "Hello, how can I help?" in page and "/delete" not in page  # agents use, supervisors edit
    assert agent.post("/console/canned", data={"csrf_token": token(agent, "/console/canned"), "title": "x",
                                               "text": "y"}).status_code == 403
    say(app_rt, "talk to a person please")
    with app_rt.services.db.session() as s:
        h = s.scalars(select(HandoffSession)).one()
    agent.post(f"/console/handoffs/{h.id}/claim", data={"csrf_token": token(agent, "/console/queue")})
    assert "Greeting" in agent.get(f"/console/conversations/{h.conversation_id}").text  # the English canned reply
    assert boss.get("/console/api/queue").json()["others"][0]["agent"] == "Alice"

    admin = client_for(app_rt, "ada")
    admin.cookies.set("sdb_console_lang", "en")
    for path in ["/console/queue", f"/console/conversations/{h.conversation_id}", "/console/canned",
                 "/console/knowledge", "/console/knowledge/try?q=hours", "/console/knowledge/entries/hours",
                 "/console/knowledge/unanswered", "/console/knowledge/new", "/console/dashboard?days=30",
                 "/console/staff", "/console/password"]:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert '<html lang="en">' in response.text, path


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_agent_opens_the_customers_file(app_rt):
    staff(app_rt, "alice")
    customer = client_for(app_rt)
    sid = "web-customer-02-5e8a1c3f9b7d20463ac9"
    customer.post("/api/chat", json={"session_id": sid, "text": "人工"})
    customer.post("/api/chat/upload", data={"session_id": sid}, files={"file": ("证件.png", PNG, "image/png")})
    agent = client_for(app_rt, "alice")
    [item] = agent.get("/console/api/queue").json()["waiting"]
    messages = agent.get(f"/console/api/conversations/{item['conversation_id']}/messages").json()["messages"]
    [file] = [f for m in messages for f in m["files"]]
    assert file["name"] == "证件.png"
    got = agent.get(file["url"])
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    other = file["url"].replace(f"/conversations/{item['conversation_id']}/", "/conversations/999/")
    assert agent.get(other).status_code == 404
    assert client_for(app_rt).get(file["url"], follow_redirects=False).status_code == 303


def test_dashboard_gathers_ratings_and_complaints_and_the_panel_shows_complaints(app_rt):
    from domain import complaints, handoff

    alice = staff(app_rt, "alice")
    staff(app_rt, "sue", role="supervisor")
    say(app_rt, "营业时间")
    say(app_rt, "人工")
    with app_rt.services.db.session() as s:
        conv = s.scalars(select(Conversation)).one()
        ticket = complaints.create(s, app_rt.services, conv, category="delay",
                                   description="等了两个小时").ticket
        s.add(Application(reference="A2026-0001", service_id="social-card", service_name={"zh": "社保卡补办"},
                          customer_id=conv.customer_id, conversation_id=conv.id, stage="initial_review",
                          submitted_at=utcnow(), due_at=utcnow() - timedelta(days=1)))
        h = s.scalars(select(HandoffSession)).one()
        agent = s.get(StaffUser, alice.id)
        handoff.claim(s, app_rt.services, h.id, agent)
        handoff.reply(s, app_rt.services, h.id, agent, "抱歉久等")
        handoff.close(s, app_rt.services, h.id, agent)
    with app_rt.services.db.session() as s:
        rating_id = s.scalars(select(Rating.id)).one()
    say(app_rt, button=f"feedback:score:{rating_id}:5")

    boss = client_for(app_rt, "sue")
    page = boss.get("/console/dashboard").text
    assert 'id="fig-ratings-scores-average">5.0<' in page
    assert 'id="fig-complaints-received">1<' in page
    assert "评分分布" in page and "投诉类别" in page and "申请所处阶段" in page
    assert 'id="fig-applications-overdue">1<' in page
    by_agent = list(csv.DictReader(io.StringIO(
        boss.get("/console/dashboard/ratings/by_agent.csv").text.lstrip("\ufeff"))))
    assert by_agent[0]["name"] == "Alice" and by_agent[0]["average"] == "5.0"
    assert boss.get("/console/dashboard/ratings/faq.by_entry.csv").status_code == 200

    conversation_page = boss.get(f"/console/conversations/{h.conversation_id}").text
    assert ticket in conversation_page and f"/console/complaints/{ticket}" in conversation_page
    assert "/console/applications/A2026-0001" in conversation_page and "社保卡补办 · 初审中" in conversation_page
