"""A person's data export: one archive of everything held, over linked identities, recorded."""
from __future__ import annotations

import io
import json
import zipfile

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cli import main
from bot.web.app import create_app
from domain.customers import link_identities
from domain.staff import create_api_token
from storage.models import Customer, CustomerDataRequest
from tests.integration.applications.helpers import GOOD_ID, Chat
from tests.integration.applications.test_chat_flow import submit_account_opening


def two_identities_of_one_person(runtime) -> None:
    """An application on the web chat, a question and a rating from Telegram, the two linked."""
    submit_account_opening(Chat(runtime, "web-1", "web-1"))
    telegram = Chat(runtime, "tg-9", "9", channel="telegram")
    telegram.send("完全无关的问题 xyzzy")
    telegram.press("feedback:general:4")
    Chat(runtime, "other", "other").send("别人的问题 plugh")
    with runtime.services.db.session() as s:
        web = s.scalars(select(Customer).where(Customer.channel == "web", Customer.external_id == "web-1")).one()
        tg = s.scalars(select(Customer).where(Customer.channel == "telegram")).one()
        link_identities(s, web, tg)


def read(archive: bytes) -> tuple[dict, list[str]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return json.loads(zf.read("data.json")), zf.namelist()


def test_cli_export_holds_everything_of_the_person_and_nothing_of_others(runtime, settings, monkeypatch, tmp_path,
                                                                      capsys):
    two_identities_of_one_person(runtime)
    monkeypatch.setenv("BOT_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    assert main(["customer", "export", "telegram:9", "--to", str(tmp_path / "out"), "--reason", "customer asked"]) == 0
    archive = tmp_path / "out" / "customer-telegram-9.zip"
    assert f"wrote {archive}" in capsys.readouterr().out
    data, names = read(archive.read_bytes())
    assert {i["channel"] for i in data["identities"]} == {"web", "telegram"}
    texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
    assert "完全无关的问题 xyzzy" in texts and "别人的问题 plugh" not in texts
    app = data["applications"][0]
    assert app["applicant"]["id_number"] == GOOD_ID  # their own data, unmasked
    assert [h["to_stage"] for h in app["history"]] == ["received"]
    assert [r["score"] for r in data["ratings"] if r["kind"] == "score"] == [4]
    assert [q["text"] for q in data["questions"] if q["status"] == "open"] == ["完全无关的问题 xyzzy"]
    files = [f["archive_path"] for f in data["files"]]
    assert len(files) == 2 and all(path in names for path in files)  # the ID photo and the PDF
    with runtime.services.db.session() as s:
        request = s.scalars(select(CustomerDataRequest)).one()
        assert (request.kind, request.identity, request.reason) == ("export", "telegram:9", "customer asked")
        assert request.actor.startswith("cli:") and len(request.customer_ids) == 2
    assert main(["customer", "export", "telegram:404", "--to", str(tmp_path / "out")]) == 1
    assert main(["customer", "export", "telegram", "--to", str(tmp_path / "out")]) == 1
    assert "CHANNEL:EXTERNAL_ID" in capsys.readouterr().err


def test_rest_export_for_admins_only(runtime):
    two_identities_of_one_person(runtime)
    with runtime.services.db.session() as s:
        admin = {"Authorization": f"Bearer {create_api_token(s, 'dpo-tool', 'admin')}"}
        supervisor = {"Authorization": f"Bearer {create_api_token(s, 'boss-tool', 'supervisor')}"}
    with TestClient(create_app(runtime, start_workers=False)) as api:
        assert api.get("/api/v1/customers/telegram:9/export", headers=supervisor).status_code == 403
        assert api.get("/api/v1/customers/telegram:404/export", headers=admin).status_code == 404
        response = api.get("/api/v1/customers/web:web-1/export?reason=request%2042", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    data, _ = read(response.content)
    assert len(data["identities"]) == 2 and data["applications"][0]["reference"].startswith("KH-")
    with runtime.services.db.session() as s:
        request = s.scalars(select(CustomerDataRequest)).one()
        assert (request.actor, request.reason) == ("api:dpo-tool", "request 42")
