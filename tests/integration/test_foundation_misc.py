"""Settings, attachments, terminal chat, command line and REST token checks."""
from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import Runtime
from bot.channels.terminal import TerminalChat
from bot.cli import main
from bot.config import SettingsError, load_settings
from bot.web.app import create_app
from storage.attachments import AttachmentRejected, AttachmentStore, sniff_mime
from storage.models import ApiToken, Attachment, StaffUser
from tests.testbot import StandInKnowledge, build_runtime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def test_wrong_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("BOT_PORT", "eighty")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "BOT_PORT" in str(err.value)


def test_config_masks_secrets(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("BOT_TELEGRAM_TOKEN", "123:s3cr3tvalue")
    monkeypatch.setenv("BOT_DATABASE_URL", "postgresql://bot:hunter2@db/bot")
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3tvalue" not in out and "hunter2" not in out
    assert "BOT_TELEGRAM_TOKEN=******" in out and "BOT_DATABASE_URL=postgresql://bot:***@db/bot" in out


def test_attachment_type_is_judged_by_content(runtime):
    store: AttachmentStore = runtime.services.attachments
    assert sniff_mime(PNG) == "image/png" and sniff_mime(PDF) == "application/pdf"
    with runtime.services.db.session() as s:
        with pytest.raises(AttachmentRejected) as err:
            store.save(s, b"MZ\x90\x00" + b"\x00" * 200, "photo.jpg")  # an executable named like a photo
        assert err.value.reason == "bad_type"
        with pytest.raises(AttachmentRejected):
            store.save(s, b"\x89PNG\r\n\x1a\n" + b"\x00" * store.max_bytes, "big.png")
        first = store.save(s, PNG, "a.png")
        second = store.save(s, PNG, "b.png")
        assert first.sha256 == second.sha256 and store.read(first) == PNG
        assert len(list(s.scalars(select(Attachment)))) == 2


def test_terminal_chat_numbers_pick_buttons(sqlite_settings):
    out = io.StringIO()
    runtime = Runtime.build(sqlite_settings, kinds=["terminal"],
                            knowledge=StandInKnowledge.from_folder(sqlite_settings.knowledge_dir))
    runtime.channels["terminal"].out = out
    chat = TerminalChat(runtime.channels["terminal"], runtime.engine.handle, runtime.outbox.drain_once, chat_id="t1")
    chat.run(io.StringIO("English\n2\n/quit\n"))
    text = out.getvalue()
    assert "[1] " in text and "Switched to English." in text
    assert 'Which service would you like to apply for?' in text  # button 2 of the English menu: submit an application


def test_staff_add_and_api_token_then_bearer_check(sqlite_settings, monkeypatch, capsys):
    for key, value in {"BOT_DATA_DIR": str(sqlite_settings.data_dir),
                       "BOT_DATABASE_URL": sqlite_settings.effective_database_url}.items():
        monkeypatch.setenv(key, value)
    assert main(["staff", "add", "sam", "--role", "supervisor", "--password", "long enough"]) == 0
    assert main(["staff", "add", "sam", "--role", "supervisor", "--password", "long enough"]) == 2
    assert main(["api-token", "create", "backoffice", "--role", "agent"]) == 0
    agent_token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["api-token", "create", "ops", "--role", "supervisor"]) == 0
    supervisor_token = capsys.readouterr().out.strip().splitlines()[-1]
    runtime = build_runtime(sqlite_settings)
    with runtime.services.db.session() as s:
        assert s.scalars(select(StaffUser)).one().password_hash.startswith("$argon2")
        assert supervisor_token not in {t.token_hash for t in s.scalars(select(ApiToken))}
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert client.get("/api/v1/outbox").status_code == 401
        assert client.get("/api/v1/outbox", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/api/v1/outbox", headers={"Authorization": f"Bearer {agent_token}"}).status_code == 403
        ok = client.get("/api/v1/outbox", headers={"Authorization": f"Bearer {supervisor_token}"})
        assert ok.status_code == 200 and ok.json() == {"items": []}
        assert client.get("/openapi.json").json()["paths"]["/api/v1/outbox"]
