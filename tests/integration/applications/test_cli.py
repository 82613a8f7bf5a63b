"""``python -m bot application list|show|transition`` over the same storage the bot uses."""
from __future__ import annotations

import json

from bot.cli import main
from tests.integration.applications.helpers import GOOD_ID, Chat
from tests.integration.applications.test_chat_flow import submit_account_opening


def test_cli_lists_shows_and_moves_applications(runtime, settings, monkeypatch, capsys):
    monkeypatch.setenv("BOT_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)

    assert main(["application", "list", "--stage", "received"]) == 0
    assert reference in capsys.readouterr().out

    assert main(["application", "show", reference]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stage"] == "received" and GOOD_ID not in json.dumps(shown)
    assert main(["application", "show", reference, "--reveal"]) == 0
    assert GOOD_ID in capsys.readouterr().out

    assert main(["application", "transition", reference, "approved"]) == 3
    assert "cannot go from received to approved" in capsys.readouterr().err
    assert main(["application", "transition", reference, "correction_requested", "--item",
                 "mobile:号码停机了", "--by", "rita"]) == 0
    assert "号码停机了" in chat.outbox_texts()[-1]
    assert main(["application", "transition", "KH-20000101-AAAA", "initial_review"]) == 1
