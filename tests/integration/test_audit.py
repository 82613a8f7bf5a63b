"""The audit log: every staff action that is not a case event is recorded, with who and from where,
and only admins read it (console page with filters and pages; REST API)."""

from __future__ import annotations

import getpass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cli import main
from domain import audit
from domain.staff import create_api_token
from storage.models import AuditEntry, StaffUser, utcnow
from tests.console_helpers import console_app, console_login, csrf_of

ACCOUNTS = [
    ("root", "root password", "admin", "Root"),
    ("cara", "content pass", "content_manager", "Cara"),
    ("sam", "super pass 1", "supervisor", "Sam"),
]


def entries(runtime) -> list[tuple[str | None, str, str, dict, str | None]]:
    with runtime.services.db.session() as s:
        return [
            (e.actor, e.action, e.subject, e.detail, e.address)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def _post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **data}, follow_redirects=False)


@pytest.fixture
def desk(settings):
    with console_app(settings, ACCOUNTS) as (runtime, client):
        yield runtime, client


def test_logins_failed_logins_and_logouts_are_recorded_with_the_address(desk):
    runtime, client = desk
    assert console_login(client, "root", "wrong password").status_code == 401
    assert console_login(client, "nobody", "whatever").status_code == 401
    assert console_login(client, "root", "root password").status_code == 303
    _post(client, "/console/logout", "/console")
    assert entries(runtime) == [
        ("root", "staff.login_failed", "staff:root", {"reason": "failed"}, "testclient"),
        ("nobody", "staff.login_failed", "staff:nobody", {"reason": "failed"}, "testclient"),
        ("root", "staff.login", "staff:root", {}, "testclient"),
        ("root", "staff.logout", "staff:root", {}, "testclient"),
    ]


def test_staff_account_changes_are_recorded(desk):
    runtime, client = desk
    console_login(client, "root", "root password")
    assert (
        _post(
            client,
            "/console/staff",
            "/console/staff",
            username="dan",
            display_name="Dan",
            role="agent",
            password="dan password",
        ).status_code
        == 303
    )
    with runtime.services.db.session() as s:
        dan = s.scalars(select(StaffUser).where(StaffUser.username == "dan")).one().id
    _post(client, f"/console/staff/{dan}/role", "/console/staff", role="reviewer")
    _post(client, f"/console/staff/{dan}/active", "/console/staff", active="0")
    _post(client, f"/console/staff/{dan}/active", "/console/staff", active="1")
    _post(client, f"/console/staff/{dan}/unlock", "/console/staff")
    _post(client, f"/console/staff/{dan}/password", "/console/staff", password="a new password")
    _post(
        client,
        "/console/password",
        "/console/password",
        current="root password",
        new="root password 2",
        repeat="root password 2",
    )
    recorded = [(actor, action, subject, detail) for actor, action, subject, detail, _ in entries(runtime)[1:]]
    assert recorded == [
        ("root", "staff.created", "staff:dan", {"role": "agent"}),
        ("root", "staff.role_changed", "staff:dan", {"from": "agent", "to": "reviewer"}),
        ("root", "staff.disabled", "staff:dan", {}),
        ("root", "staff.enabled", "staff:dan", {}),
        ("root", "staff.unlocked", "staff:dan", {}),
        ("root", "staff.password_reset", "staff:dan", {}),
        ("root", "staff.password_changed", "staff:root", {}),
    ]
    assert "dan password" not in str(entries(runtime)) and "a new password" not in str(entries(runtime))


def test_a_refused_change_records_nothing(desk):
    runtime, client = desk
    console_login(client, "root", "root password")
    assert (
        _post(
            client, "/console/staff", "/console/staff", username="x", role="wizard", password="long enough"
        ).status_code
        == 400
    )
    assert [action for _, action, *_ in entries(runtime)] == ["staff.login"]


def test_a_knowledge_entry_written_from_the_console_is_recorded(settings, tmp_path):
    with console_app(settings.model_copy(update={"knowledge_dir": tmp_path / "kb"}), ACCOUNTS) as (runtime, client):
        _write_an_entry(runtime, client)


def _write_an_entry(runtime, client) -> None:
    console_login(client, "cara", "content pass")
    answer = _post(
        client,
        "/console/knowledge/new",
        "/console/knowledge/new",
        id="audit-test-entry",
        question="审计日志是什么？",
        answer="记录工作人员的操作。",
        lang="zh",
    )
    assert answer.status_code == 303
    assert entries(runtime)[-1][:4] == (
        "cara",
        "knowledge.entry_created",
        "knowledge:audit-test-entry",
        {"question": "审计日志是什么？", "lang": "zh"},
    )


def test_webhook_subscriptions_changed_in_the_console_and_the_api_are_recorded(desk):
    runtime, client = desk
    console_login(client, "root", "root password")
    _post(client, "/console/webhooks", "/console/webhooks", url="https://erp.example/a", secret="s" * 16)
    _post(client, "/console/webhooks/1/remove", "/console/webhooks")
    with runtime.services.db.session() as s:
        token = create_api_token(s, "erp", "admin")
    bearer = {"authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/webhooks", json={"url": "https://erp.example/b", "secret": "t" * 16}, headers=bearer
    ).json()["id"]
    assert client.delete(f"/api/v1/webhooks/{created}", headers=bearer).status_code == 204
    recorded = [(actor, action, subject) for actor, action, subject, _, _ in entries(runtime)[1:]]
    assert recorded == [
        ("root", "webhook.subscribed", "webhook:1"),
        ("root", "webhook.removed", "webhook:1"),
        ("api:erp", "webhook.subscribed", f"webhook:{created}"),
        ("api:erp", "webhook.removed", f"webhook:{created}"),
    ]
    assert entries(runtime)[1][3]["url"] == "https://erp.example/a" and "s" * 16 not in str(entries(runtime))


def test_cli_staff_tokens_and_webhooks_are_recorded(settings, monkeypatch, capsys):
    monkeypatch.setenv("BOT_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    assert main(["staff", "add", "eve", "--role", "agent", "--password", "eve password"]) == 0
    assert main(["api-token", "create", "erp", "--role", "reviewer"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["api-token", "revoke", "erp"]) == 0 and main(["api-token", "revoke", "erp"]) == 2
    assert "no live API token named 'erp'" in capsys.readouterr().err
    assert main(["webhook", "add", "https://erp.example/c", "--secret", "u" * 16]) == 0
    assert main(["webhook", "remove", "1"]) == 0
    with console_app(settings, []) as (runtime, client):
        assert client.get("/api/v1/applications", headers={"authorization": f"Bearer {token}"}).status_code == 401
        recorded = [(actor, action, subject) for actor, action, subject, _, _ in entries(runtime)]
    me = f"cli:{getpass.getuser()}"
    assert recorded == [
        (me, "staff.created", "staff:eve"),
        (me, "api_token.created", "api_token:erp"),
        (me, "api_token.revoked", "api_token:erp"),
        (me, "webhook.subscribed", "webhook:1"),
        (me, "webhook.removed", "webhook:1"),
    ]


def _fill(runtime, count: int) -> None:
    with runtime.services.db.session() as s:
        for n in range(count):
            audit.record(
                s,
                actor=f"user{n % 3}",
                action="staff.login" if n % 2 else "staff.login_failed",
                subject=f"staff:user{n % 3}",
                address="10.0.0.1",
            )


def test_only_admins_read_the_console_page(desk):
    runtime, client = desk
    _fill(runtime, 3)
    console_login(client, "sam", "super pass 1")
    assert client.get("/console/audit", headers={"accept": "text/html"}).status_code == 403
    assert "/console/audit" not in client.get("/console").text
    _post(client, "/console/logout", "/console")
    console_login(client, "root", "root password")
    page = client.get("/console/audit")
    assert page.status_code == 200 and "操作日志" in page.text and "user2" in page.text and "10.0.0.1" in page.text
    assert 'href="/console/audit"' in client.get("/console").text


def test_the_console_page_filters_and_pages(desk):
    runtime, client = desk
    _fill(runtime, 120)
    console_login(client, "root", "root password")
    first = client.get("/console/audit", params={"action": "staff.login_failed"}).text
    assert "共 60 条，第 1/2 页" in first and "page=2" in first
    assert (
        "共 60 条，第 2/2 页" in client.get("/console/audit", params={"action": "staff.login_failed", "page": 2}).text
    )
    assert "共 40 条" in client.get("/console/audit", params={"actor": "user1"}).text
    today = utcnow().astimezone(runtime.services.settings.working_hours.zone).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert "没有符合条件的记录" in client.get("/console/audit", params={"until": yesterday}).text
    assert "共 121 条" in client.get("/console/audit", params={"since": today.isoformat()}).text
    assert "日期格式应为" in client.get("/console/audit", params={"since": "yesterday"}).text


def test_the_rest_api_is_for_admins_paged_and_filtered(desk):
    runtime, client = desk
    _fill(runtime, 30)
    with runtime.services.db.session() as s:
        admin = {"authorization": f"Bearer {create_api_token(s, 'auditor', 'admin')}"}
        supervisor = {"authorization": f"Bearer {create_api_token(s, 'boss', 'supervisor')}"}
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/api/v1/audit", headers=supervisor).status_code == 403
    body = client.get("/api/v1/audit", params={"limit": 10, "offset": 5}, headers=admin).json()
    assert body["total"] == 30 and len(body["items"]) == 10 and body["items"][0]["actor"] == "user0"
    assert set(body["items"][0]) == {"id", "at", "actor", "action", "subject", "detail", "address"}
    assert (
        client.get("/api/v1/audit", params={"action": "staff.login", "actor": "user0"}, headers=admin).json()["total"]
        == 5
    )
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/v1/audit", params={"since": later}, headers=admin).json()["total"] == 0
    assert client.get("/api/v1/audit", params={"until": "2026-01-01T00:00:00+00:00"}, headers=admin).json()["total"] == 0
    assert client.get("/api/v1/audit", params={"limit": 501}, headers=admin).status_code == 422
