"""REST API for complaints and ratings: tokens, roles, filters, transitions and 409s."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.web.app import create_app
from domain.staff import create_api_token
from storage.models import utcnow

from .conftest import outbox_texts
from .test_complaint_chat import file_complaint
from .test_complaint_lifecycle import pass_deadline


@pytest.fixture
def api(runtime, staff):
    with runtime.services.db.session() as s:
        tokens = {
            "agent": create_api_token(s, "agent-token", "agent", staff["agent1"]),
            "supervisor": create_api_token(s, "boss-token", "supervisor", staff["boss"]),
            "content": create_api_token(s, "kb-token", "content_manager"),
        }
    client = TestClient(create_app(runtime, start_workers=False))

    def call(method: str, path: str, role: str = "agent", **kw):
        return client.request(method, path, headers={"Authorization": f"Bearer {tokens[role]}"}, **kw)

    call.client = client  # type: ignore[attr-defined]
    return call


def test_complaint_handled_through_the_api_with_409_for_illegal_steps(runtime, say, staff, api):
    ticket = file_complaint(say("alice"))
    assert api.client.get("/api/v1/complaints").status_code == 401
    assert api("GET", "/api/v1/complaints", role="content").status_code == 403

    listing = api("GET", "/api/v1/complaints", params={"status": "received"}).json()
    assert listing["total"] == 1 and listing["items"][0]["ticket"] == ticket
    assert api("GET", "/api/v1/complaints", params={"status": "closed"}).json()["total"] == 0

    illegal = api("POST", f"/api/v1/complaints/{ticket}/resolve", json={"resolution": "done"})
    assert illegal.status_code == 409 and "'resolve' is allowed only when" in illegal.json()["error"]
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "close"}).status_code == 409
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "fly"}).status_code == 422
    assert api("POST", f"/api/v1/complaints/{ticket}/assign", json={"staff_id": 424242}).status_code == 422
    assert api("GET", "/api/v1/complaints/TS000000-AAAA").status_code == 404

    assigned = api("POST", f"/api/v1/complaints/{ticket}/assign",
                   json={"staff_id": staff["agent1"], "comment": "yours"}).json()
    assert assigned["status"] == "assigned" and assigned["assigned_to"] == staff["agent1"]
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "start"}).status_code == 200
    resolved = api("POST", f"/api/v1/complaints/{ticket}/resolve", json={
        "resolution": "We apologise and have retrained the clerk.", "finding": "rude answer at the counter",
        "responsible_staff_id": staff["agent1"], "measure": "retraining"}).json()
    assert resolved["status"] == "resolved" and resolved["measure"] == "retraining"
    assert resolved["responsible_staff_id"] == staff["agent1"]
    detail = api("GET", f"/api/v1/complaints/{ticket}").json()
    assert [e["action"] for e in detail["events"]] == ["received", "assign", "start", "resolve"]
    assert detail["events"][1] == {**detail["events"][1], "actor": "staff", "staff_id": staff["agent1"],
                                   "comment": "yours"}
    assert any("retrained the clerk" in text for text in outbox_texts(runtime, "alice"))
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "follow_up"}).json()[
        "status"] == "follow_up"
    early = api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "close"})
    assert early.status_code == 409 and "waits for the customer's answer" in early.json()["error"]
    pass_deadline(runtime, ticket)  # the follow-up's time limit passed unanswered
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "close"}).json()[
        "status"] == "closed"
    assert api("POST", f"/api/v1/complaints/{ticket}/transitions", json={"action": "reopen"}).status_code == 409


def test_overdue_filter_and_figures(runtime, say, api):
    late = file_complaint(say("alice"))
    on_time = file_complaint(say("bob"))
    pass_deadline(runtime, late)
    overdue = api("GET", "/api/v1/complaints", params={"overdue": "true"}).json()
    assert [c["ticket"] for c in overdue["items"]] == [late] and overdue["items"][0]["overdue"] is True
    assert [c["ticket"] for c in api("GET", "/api/v1/complaints", params={"overdue": "false"}).json()["items"]] == [
        on_time]
    assert api("GET", "/api/v1/complaints/stats").status_code == 403  # agents do not see the dashboard
    figures = api("GET", "/api/v1/complaints/stats", role="supervisor").json()
    assert figures["received"] == 2 and figures["overdue_now"] == 1
    old = api("GET", "/api/v1/complaints/stats", role="supervisor",
              params={"until": (utcnow() - timedelta(days=40)).isoformat()}).json()
    assert old["received"] == 0
