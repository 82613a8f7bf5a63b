"""Console pages for complaints and ratings over HTTP: list with overdue flags, detail with
history, actions with CSRF, 409 for an illegal step, role checks."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import domain.complaints.tickets as tickets_module
from bot.web.app import create_app
from storage.models import Complaint
from tests.console_helpers import console_login, csrf_of

from .conftest import outbox_texts
from .test_complaint_chat import file_complaint
from .test_complaint_lifecycle import act, load, pass_deadline


@pytest.fixture
def console(runtime, staff):
    def login(username: str) -> TestClient:
        client = TestClient(create_app(runtime, start_workers=False))
        assert console_login(client, username, "password123").status_code == 303
        return client

    return login


def test_agent_handles_a_complaint_in_the_console(runtime, say, staff, console):
    late = file_complaint(say("alice"))
    ticket = file_complaint(say("bob"))
    pass_deadline(runtime, late)
    agent = console("agent1")

    listing = agent.get("/console/complaints")
    assert listing.status_code == 200 and ticket in listing.text and late in listing.text
    assert listing.text.count('class="badge warn"') == 1  # only the late one is flagged
    overdue = agent.get("/console/complaints", params={"overdue": "true"}).text
    assert late in overdue and ticket not in overdue

    page = agent.get(f"/console/complaints/{ticket}")
    assert "窗口工作人员态度很差" in page.text and 'value="assign"' in page.text and 'value="resolve"' not in page.text
    token = csrf_of(page.text)
    assert agent.post(f"/console/complaints/{ticket}/action",
                      data={"action": "assign", "staff_id": str(staff["agent1"])}).status_code == 403  # no CSRF
    refused = agent.post(f"/console/complaints/{ticket}/action",
                         data={"action": "close", "csrf_token": token})
    assert refused.status_code == 409 and "allowed only when" in refused.text
    done = agent.post(f"/console/complaints/{ticket}/action", follow_redirects=False,
                      data={"action": "assign", "staff_id": str(staff["agent1"]), "comment": "mine",
                            "csrf_token": token})
    assert done.status_code == 303
    agent.post(f"/console/complaints/{ticket}/action", data={"action": "start", "csrf_token": token})
    missing = agent.post(f"/console/complaints/{ticket}/action",
                         data={"action": "resolve", "resolution": " ", "csrf_token": token})
    assert missing.status_code == 422
    agent.post(f"/console/complaints/{ticket}/action", data={
        "action": "resolve", "resolution": "已向您致歉并加强培训", "finding": "答复不规范",
        "responsible_staff_id": str(staff["agent1"]), "measure": "培训", "csrf_token": token})
    detail = agent.get(f"/console/complaints/{ticket}").text
    assert "答复不规范" in detail and "mine" in detail and "处理完毕" in detail and 'value="follow_up"' in detail
    assert load(runtime, ticket).status == "resolved"
    assert any("已向您致歉并加强培训" in text for text in outbox_texts(runtime, "bob"))


def test_console_roles(runtime, say, staff, console):
    from domain.staff import add_staff

    with runtime.services.db.session() as s:
        add_staff(s, "kb", "password123", "content_manager", "KB Editor")
    editor = console("kb")
    assert editor.get("/console/complaints").status_code == 403
    assert "没帮助" in editor.get("/console/ratings").text
    assert "服务评分" not in editor.get("/console/ratings").text  # figures are for supervisors
    say("carol")(button="feedback:general:1")
    say("carol")("等了一个小时<script>")
    assert "等了一个小时" not in editor.get("/console/ratings").text  # comments are for supervisors
    boss = console("boss")
    page = boss.get("/console/ratings")
    assert page.status_code == 200 and "服务评分" in page.text and "/console/complaints" in page.text
    assert "等了一个小时&lt;script&gt;" in page.text


def test_dashboard_lists_the_staff_member_the_finding_names_not_the_handler(runtime, say, staff, console):
    ticket = file_complaint(say("ivy"))
    act(runtime, ticket, "assign", staff["agent1"], staff_id=staff["agent1"])
    act(runtime, ticket, "start", staff["agent1"])
    act(runtime, ticket, "resolve", staff["agent1"], resolution="致歉", finding="主管答复不当",
        responsible_staff_id=staff["boss"])
    page = console("boss").get("/console/dashboard", params={"days": 7}).text
    table = page.split('id="table-complaints-responsible_staff"')[1].split("</table>")[0]
    assert "The Boss" in table and "Agent One" not in table


def test_ticket_dates_and_console_times_are_in_the_desks_time_zone(runtime, say, staff, console, monkeypatch):
    evening_utc = datetime(2026, 12, 1, 18, 28, tzinfo=timezone.utc)  # already 12-02 02:28 in Shanghai
    monkeypatch.setattr(tickets_module, "utcnow", lambda: evening_utc)
    ticket = file_complaint(say("kim"))
    assert ticket.startswith("TS261202-")
    with runtime.services.db.session() as s:
        s.execute(update(Complaint).where(Complaint.ticket == ticket).values(created_at=evening_utc))
    page = console("agent1").get(f"/console/complaints/{ticket}").text
    assert "2026-12-02 02:28" in page and " UTC" not in page
