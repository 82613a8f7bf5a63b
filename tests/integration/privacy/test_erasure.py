"""Erasure of a person's data: everything personal gone (database and files), the figures
unchanged, kept cases kept and reported, duplicate deliveries still dropped; by CLI and REST."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from bot.cli import main
from bot.web.app import create_app
from domain import applications, complaints, erasure, handoff, ratings, webhooks
from domain.staff import create_api_token
from storage import inbox
from storage.models import (
    Application,
    ApplicationItem,
    Customer,
    CustomerDataRequest,
    InboxItem,
    Rating,
    WebhookDelivery,
)
from tests.integration.applications.helpers import GOOD_ID, PDF, PNG, Chat
from tests.integration.feedback.test_complaint_chat import file_complaint
from tests.integration.privacy.test_export import two_identities_of_one_person

#: What the person told the desk; none of it may be left anywhere after the erasure.
SECRETS = ("张三", GOOD_ID, "13812345678", "完全无关的问题 xyzzy", "frobozz", "评论 quux", "Zhang Sanfeng",
           "zs@example.com")
OTHERS = "别人的问题 plugh"
UPDATE = {"update_id": 1001, "message": {"chat": {"id": 9}, "from": {"id": 9, "first_name": "Zhang Sanfeng"},
                                         "text": "完全无关的问题 xyzzy"}}
WIDE = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


def a_person_with_everything(runtime) -> None:
    """An application with files (web), a question, a rating with a comment, a complaint, a
    name and e-mail, a raw Telegram delivery; every event also queued for a webhook."""
    with runtime.services.db.session() as s:
        webhooks.add_subscription(s, "https://erp.example/h", "s" * 16)
    two_identities_of_one_person(runtime)
    web = Chat(runtime, "web-1", "web-1")
    file_complaint(lambda text="", button=None: web.send(text, button), description="窗口态度很差 frobozz")
    with runtime.services.db.session() as s:
        s.scalars(select(Rating).where(Rating.kind == "score")).one().comment = "评论 quux"
        tg = s.scalars(select(Customer).where(Customer.channel == "telegram")).one()
        tg.display_name, tg.email = "Zhang Sanfeng", "zs@example.com"
    assert inbox.accept(runtime.services.db, "telegram", "1001", UPDATE, "tg-9")


def figures(runtime) -> list[dict]:
    with runtime.services.db.session() as s:
        return [provider(s, *WIDE) for provider in (applications.stats, complaints.stats, handoff.stats,
                                                     ratings.stats)]


def dump(runtime) -> str:
    """Every row of every table, as text: what a database dump would show."""
    engine = runtime.services.db.engine
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(str(tuple(row)) for table in meta.sorted_tables
                         for row in connection.execute(table.select()))


def stored_files(data_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.suffix not in (".db", ".key")
            and "-wal" not in p.name and "-shm" not in p.name]


def raw_sqlite_files(runtime) -> bytes:
    """The bytes of the SQLite database and its write-ahead log (empty on PostgreSQL)."""
    database = runtime.services.db.engine.url.database
    if runtime.services.db.engine.dialect.name != "sqlite":
        return b""
    path = Path(database)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def assert_all_personal_data_gone(runtime, data_dir: Path) -> None:
    text, raw = dump(runtime), raw_sqlite_files(runtime)
    for secret in SECRETS:
        assert secret not in text, secret
        assert secret.encode() not in raw, f"{secret} left in the SQLite file's free space"
    assert OTHERS in text  # another customer's data is untouched
    with runtime.services.db.session() as s:
        identities = s.scalars(select(Customer.external_id).where(Customer.channel.in_(("web", "telegram")))).all()
    assert "web-1" not in identities and "9" not in identities and "other" in identities
    files = stored_files(data_dir)
    assert PNG not in files and PDF not in files


def test_cli_erasure_leaves_nothing_personal_keeps_the_figures_and_tells_the_customer(
        runtime, settings, monkeypatch, capsys):
    a_person_with_everything(runtime)
    before = figures(runtime)
    assert PNG in stored_files(settings.data_dir)
    monkeypatch.setenv("BOT_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BOT_RETENTION_KEEP_STAGES", "application:completed")
    with pytest.raises(SystemExit):
        main(["customer", "erase", "telegram:9"])  # no reason: argparse refuses
    assert main(["customer", "erase", "telegram:9", "--reason", "  "]) == 1
    assert main(["customer", "erase", "telegram:404", "--reason", "asked"]) == 1
    assert main(["customer", "erase", "telegram:9", "--reason", "customer asked by letter"]) == 0
    out = capsys.readouterr().out
    assert "2 identities, 2 files deleted" in out and "nothing kept" in out and "told in their last chat" in out
    assert figures(runtime) == before
    assert_all_personal_data_gone(runtime, settings.data_dir)
    with runtime.services.db.session() as s:
        record = s.scalars(select(CustomerDataRequest)).one()
        assert (record.kind, record.reason, record.detail["kept"]) == ("erasure", "customer asked by letter", [])
        assert record.actor.startswith("cli:") and record.identity.startswith("telegram:erased-")
        erased = s.scalars(select(WebhookDelivery).where(WebhookDelivery.event_type == "customer.erased")).one()
        assert erased.body["data"]["customer_ids"] == record.customer_ids and erased.body["data"]["kept"] == []
        assert not [d for d in s.scalars(select(WebhookDelivery)) if d.subject.startswith("application:")
                    and d.body["data"]]
    told = Chat(runtime, "web-1", "web-1").outbox_texts()  # the chat they wrote in last
    assert told == ["您的个人信息已删除：姓名、电话、邮箱、聊天记录、上传的文件，以及申请、投诉、评价和提问中的个人内容均已删除或匿名化。"]
    assert main(["customer", "export", "telegram:9", "--to", str(settings.data_dir / "x")]) == 1  # gone


def test_duplicate_deliveries_are_still_dropped_after_the_erasure(runtime):
    a_person_with_everything(runtime)
    with runtime.services.db.session() as s:
        erasure.erase_identity(s, runtime.services, runtime.services.attachments, "web:web-1", "test", "asked")
        reference = s.scalars(select(Application.reference).where(Application.stage == "received")).one()
        reviewer = {"Authorization": f"Bearer {create_api_token(s, 'review-tool', 'reviewer')}"}
    with TestClient(create_app(runtime, start_workers=False)) as api:
        shown = api.get(f"/api/v1/applications/{reference}", headers=reviewer)
        assert shown.status_code == 200 and shown.json()["stage"] == "received" and GOOD_ID not in shown.text
    with runtime.services.db.session() as s:
        row = s.scalars(select(InboxItem).where(InboxItem.delivery_key == "1001")).one()
        assert row.payload == {} and row.chat_id.startswith("erased-") and row.status == "done"
    assert not inbox.accept(runtime.services.db, "telegram", "1001", UPDATE, "tg-9")
    # the same person writing again is a new customer, with nothing of the old one
    assert Chat(runtime, "tg-9", "9", channel="telegram").send("/start")
    with runtime.services.db.session() as s:
        fresh = s.scalars(select(Customer).where(Customer.channel == "telegram", Customer.external_id == "9")).one()
        assert fresh.person_id is None and fresh.display_name is None


def test_rest_erasure_for_admins_keeps_the_cases_the_law_requires(runtime, settings):
    a_person_with_everything(runtime)
    before = figures(runtime)
    keep = settings.model_copy(update={"retention_keep_stages": "application:received", "retention_keep_days": 30})
    runtime.services.settings = keep
    with runtime.services.db.session() as s:
        admin = {"Authorization": f"Bearer {create_api_token(s, 'dpo-tool', 'admin')}"}
        supervisor = {"Authorization": f"Bearer {create_api_token(s, 'boss-tool', 'supervisor')}"}
        reference = s.scalars(select(Application.reference).where(Application.stage == "received")).one()
    with TestClient(create_app(runtime, start_workers=False)) as api:
        assert api.post("/api/v1/customers/web:web-1/erase", json={"reason": "x"}).status_code == 401
        assert api.post("/api/v1/customers/web:web-1/erase", json={"reason": "x"},
                        headers=supervisor).status_code == 403
        assert api.post("/api/v1/customers/web:404/erase", json={"reason": "x"}, headers=admin).status_code == 404
        assert api.post("/api/v1/customers/web:web-1/erase", json={}, headers=admin).status_code == 422
        assert api.post("/api/v1/customers/web:web-1/erase", json={"reason": " "}, headers=admin).status_code == 422
        response = api.post("/api/v1/customers/web:web-1/erase", json={"reason": "request 42"}, headers=admin)
        assert "/api/v1/customers/{identity}/erase" in api.get("/openapi.json").json()["paths"]
    assert response.status_code == 200, response.text
    done = response.json()
    until = (datetime.now(timezone.utc) + timedelta(days=30)).date().isoformat()
    assert done["kept"] == [{"kind": "application", "reference": reference, "stage": "received", "kept_until": until}]
    assert done["files_deleted"] == 0 and len(done["customer_ids"]) == 2
    assert figures(runtime) == before
    text = dump(runtime)
    assert GOOD_ID in text and "张三" in text  # the kept application's materials
    for secret in ("完全无关的问题 xyzzy", "frobozz", "评论 quux", "Zhang Sanfeng", "zs@example.com"):
        assert secret not in text, secret
    assert PNG in stored_files(settings.data_dir)  # the kept application's files
    with runtime.services.db.session() as s:
        assert s.scalars(select(ApplicationItem)).all()
        record = s.scalars(select(CustomerDataRequest)).one()
        assert (record.actor, record.reason) == ("api:dpo-tool", "request 42")
    told = Chat(runtime, "web-1", "web-1").outbox_texts()
    assert len(told) == 2 and f"· 申请 {reference}（已受理）：保存至 {until}" in told[1]



def test_every_export_and_erasure_is_in_the_audit_log_without_the_identity(runtime, settings):
    """Who and why, for the admins' audit page; the person's identity stays out of the log."""
    a_person_with_everything(runtime)
    with runtime.services.db.session() as s:
        admin = {"Authorization": f"Bearer {create_api_token(s, 'dpo-tool', 'admin')}"}
    with TestClient(create_app(runtime, start_workers=False)) as api:
        assert api.get("/api/v1/customers/web:web-1/export", params={"reason": "copy asked"},
                       headers=admin).status_code == 200
        assert api.post("/api/v1/customers/web:web-1/erase", json={"reason": "request 42"},
                        headers=admin).status_code == 200
        log = api.get("/api/v1/audit", params={"actor": "api:dpo-tool"}, headers=admin).json()["items"]
    assert [(e["action"], e["detail"]["reason"]) for e in log] == [("customer.erasure", "request 42"),
                                                                  ("customer.export", "copy asked")]
    assert all(e["subject"].startswith("customer_data_request:") for e in log)
    assert "web-1" not in json.dumps(log)
