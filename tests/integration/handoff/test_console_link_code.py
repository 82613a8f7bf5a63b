"""The console's one-time code that links a staff member's Telegram account (``/link CODE``)."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient
from handoff_helpers import PASSWORD, make_runtime, staff

from bot.web.app import create_app
from domain.staff import redeem_link_code
from handlers.i18n import t
from handlers.services import StaffRoom
from tests.console_helpers import console_login, csrf_of


def test_the_account_page_gives_a_code_that_links_once(sqlite_settings):
    rt = make_runtime(sqlite_settings)
    rt.services.staff_room = StaffRoom("telegram_staff", "-1001234567890", "telegram")
    alice = staff(rt, "alice")
    client = TestClient(create_app(rt, start_workers=False))
    assert console_login(client, "alice", PASSWORD).status_code == 303
    page = client.get("/console/password").text
    assert t("console.link.not_linked", "zh") in page
    shown = client.post("/console/link-code", data={"csrf_token": csrf_of(page)}).text
    [code] = re.findall(r"/link ([A-Z2-9]{8})", shown)
    with rt.services.db.session() as s:
        assert redeem_link_code(s, code.lower(), "telegram", "777").id == alice.id
    with rt.services.db.session() as s:
        assert redeem_link_code(s, code, "telegram", "778") is None  # used up
    assert t("console.link.linked", "zh", id="777") in client.get("/console/password").text
    rt.services.db.dispose()


def test_without_a_staff_room_there_is_no_code(sqlite_settings):
    rt = make_runtime(sqlite_settings)
    staff(rt, "alice")
    client = TestClient(create_app(rt, start_workers=False))
    console_login(client, "alice", PASSWORD)
    page = client.get("/console/password").text
    assert 'id="telegram-link"' not in page
    assert client.post("/console/link-code", data={"csrf_token": csrf_of(page)}).status_code == 404
    rt.services.db.dispose()
