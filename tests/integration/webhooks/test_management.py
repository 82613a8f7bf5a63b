"""Managing webhook subscriptions: the CLI, the REST API (admins only) and the console page."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli import main
from bot.web.app import create_app
from domain import webhooks
from domain.staff import create_api_token
from storage.models import WebhookDelivery
from tests.console_helpers import console_app, console_login, csrf_of
from tests.integration.webhooks.receiver import SECRET


def test_cli_add_list_remove(settings, monkeypatch, capsys):
    monkeypatch.setenv("BOT_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    assert main(["webhook", "add", "https://erp.example/hooks", "--secret", SECRET,
                 "--events", "application.stage_changed,complaint.resolved"]) == 0
    assert "webhook 1: https://erp.example/hooks (application.stage_changed, complaint.resolved)" in capsys.readouterr().out
    assert main(["webhook", "add", "https://erp.example/all", "--secret", SECRET]) == 0
    assert main(["webhook", "add", "https://erp.example/x", "--secret", SECRET, "--events", "complaint.lost"]) == 2
    assert "unknown event type complaint.lost" in capsys.readouterr().err
    assert main(["webhook", "add", "ftp://erp.example/x", "--secret", SECRET]) == 2
    assert main(["webhook", "add", "https://erp.example/x", "--secret", "short"]) == 2
    capsys.readouterr()
    assert main(["webhook", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == ["1  https://erp.example/hooks  application.stage_changed,complaint.resolved",
                      "2  https://erp.example/all  *"]
    assert main(["webhook", "remove", "1"]) == 0 and main(["webhook", "remove", "1"]) == 1
    capsys.readouterr()
    main(["webhook", "list"])
    assert capsys.readouterr().out.splitlines() == ["2  https://erp.example/all  *"]


@pytest.fixture
def api(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def _bearer(runtime, role: str) -> dict[str, str]:
    with runtime.services.db.session() as s:
        return {"Authorization": f"Bearer {create_api_token(s, f'{role}-tool', role)}"}


def test_rest_api_for_admins(runtime, api):
    admin, supervisor = _bearer(runtime, "admin"), _bearer(runtime, "supervisor")
    body = {"url": "https://erp.example/hooks", "secret": SECRET, "events": ["rating.given"]}
    assert api.post("/api/v1/webhooks", json=body, headers=supervisor).status_code == 403
    created = api.post("/api/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["events"] == ["rating.given"]
    assert "secret" not in created.json()
    bad = api.post("/api/v1/webhooks", json={**body, "events": ["nope"]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"].startswith("events.0: Input should be 'application.submitted'")
    listing = api.get("/api/v1/webhooks", headers=admin).json()
    assert [s["url"] for s in listing["items"]] == ["https://erp.example/hooks"]
    assert "rating.given" in listing["event_types"] and "handoff.closed" in listing["event_types"]
    with runtime.services.db.session() as s:
        webhooks.record(s, "rating.given", "rating:1", lambda: {"id": 1})
        delivery = s.scalars(select(WebhookDelivery)).one()
        delivery.status, delivery.last_error = "failed", "gave up after 15 tries: HTTP 500"
        delivery_id = delivery.id
    failed = api.get("/api/v1/webhooks/deliveries?status=failed", headers=admin).json()["items"]
    assert [d["id"] for d in failed] == [delivery_id] and failed[0]["last_error"].startswith("gave up")
    replayed = api.post(f"/api/v1/webhooks/deliveries/{delivery_id}/replay", headers=admin).json()
    assert replayed["status"] == "pending" and replayed["attempts"] == 0
    assert api.delete(f"/api/v1/webhooks/{created.json()['id']}", headers=admin).status_code == 204
    assert api.delete(f"/api/v1/webhooks/{created.json()['id']}", headers=admin).status_code == 404
    with runtime.services.db.session() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []


def test_console_page_adds_shows_failed_and_replays(sqlite_settings):
    accounts = [("ada", "admin password", "admin", "Ada"), ("sam", "super password", "supervisor", "Sam")]
    with console_app(sqlite_settings, accounts) as (runtime, client):
        console_login(client, "sam", "super password")
        assert client.get("/console/webhooks", headers={"accept": "text/html"}).status_code == 403
        client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console").text)})
        console_login(client, "ada", "admin password")
        page = client.get("/console/webhooks")
        assert page.status_code == 200 and "还没有订阅" in page.text and 'value="handoff.closed"' in page.text
        added = client.post("/console/webhooks", data={"csrf_token": csrf_of(page.text), "url": "https://erp.example/h",
                                                       "secret": SECRET, "events": ["handoff.closed"]})
        assert added.status_code == 200 and "https://erp.example/h" in added.text
        with runtime.services.db.session() as s:
            webhooks.record(s, "handoff.closed", "handoff:3", lambda: {"id": 3})
            delivery = s.scalars(select(WebhookDelivery)).one()
            delivery.status, delivery.last_error = "failed", "gave up after 15 tries: ConnectError"
        page = client.get("/console/webhooks")
        assert "ConnectError" in page.text and "handoff:3" in page.text
        client.post(f"/console/webhooks/deliveries/{delivery.id}/replay", data={"csrf_token": csrf_of(page.text)})
        with runtime.services.db.session() as s:
            assert s.scalars(select(WebhookDelivery.status)).one() == "pending"
