"""The console pages for applications: list, case page, review actions, audited file views."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.web.api_applications import summary
from bot.web.console.pages import customer_label
from domain import applications as apps
from storage.models import Application, Customer, FileAccess
from tests.console_helpers import console_app, console_login, csrf_of
from tests.integration.applications.helpers import GOOD_ID, PNG, Chat
from tests.integration.applications.test_chat_flow import submit_account_opening


@pytest.fixture
def console(sqlite_settings):
    with console_app(sqlite_settings, [("rita", "reviewer pass", "reviewer", "Rita"),
                                       ("adam", "agent pass!", "agent", "Adam")]) as runtime_and_client:
        yield runtime_and_client


def test_reviewer_works_a_case_in_the_console(console):
    runtime, client = console
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    assert client.get("/console/applications", follow_redirects=False).status_code == 303  # login first
    console_login(client, "rita", "reviewer pass")
    listing = client.get("/console/applications", params={"stage": "received"}).text
    assert reference in listing and "110***********002X" in listing and GOOD_ID not in listing  # lists mask
    page = client.get(f"/console/applications/{reference}").text
    assert GOOD_ID in page  # the reviewer needs the full number on the case page

    token = csrf_of(page)
    bad = client.post(f"/console/applications/{reference}/transition", data={"to": "approved", "csrf_token": token})
    assert bad.status_code == 409 and "cannot go from received to approved" in bad.text
    no_csrf = client.post(f"/console/applications/{reference}/transition", data={"to": "initial_review"})
    assert no_csrf.status_code == 403
    fixed = client.post(f"/console/applications/{reference}/correction",
                        data={"material": ["mobile", "id_card_front"], "note_mobile": "空号", "csrf_token": token},
                        follow_redirects=False)
    assert fixed.status_code == 303
    notice = chat.outbox_texts()[-1]
    assert "1. 身份证人像面照片" in notice and "2. 手机号码：空号" in notice
    case_page = client.get(f"/console/applications/{reference}").text
    assert "手机号码: 空号" in case_page and "mobile:" not in case_page and "id_card_front" not in case_page

    with runtime.services.db.session() as s:
        app_id = s.scalars(select(Application.id)).one()
    chat.press(f"application:fix:{app_id}")
    chat.send(file=PNG, name="new-front.png")
    chat.send("13900001111")
    chat.press(f"application:resubmit:{app_id}")
    assert client.post(f"/console/applications/{reference}/transition",
                       data={"to": "initial_review", "comment": "收到", "csrf_token": token},
                       follow_redirects=False).status_code == 303
    extended = client.post(f"/console/applications/{reference}/extend",
                           data={"days": "3", "reason": "系统升级", "csrf_token": token}, follow_redirects=False)
    assert extended.status_code == 303 and "系统升级" in chat.outbox_texts()[-1]

    page = client.get(f"/console/applications/{reference}").text
    item_id = re.search(rf"/console/applications/{reference}/files/(\d+)\"", page).group(1)
    shown = client.get(f"/console/applications/{reference}/files/{item_id}")
    assert shown.status_code == 200 and shown.headers["content-disposition"].startswith("inline")
    with runtime.services.db.session() as s:
        access = s.scalars(select(FileAccess)).one()
        assert (access.actor_name, access.action, access.via) == ("rita", "view", "console")
    assert "rita" in client.get(f"/console/applications/{reference}").text


def test_agent_sees_masked_and_cannot_act_or_open_files(console):
    runtime, client = console
    reference, _ = submit_account_opening(Chat(runtime))
    console_login(client, "adam", "agent pass!")
    page = client.get(f"/console/applications/{reference}")
    assert page.status_code == 200 and GOOD_ID not in page.text and "110***********002X" in page.text
    assert "/transition" not in page.text
    assert client.get(f"/console/applications/{reference}/files/1").status_code == 403


def test_customers_are_shown_by_name_and_channel_not_by_id(runtime):
    chat = Chat(runtime, chat_id="0f3a9c2be4d14f6a8b7c9d0e1f2a3b4c", user_id="0f3a9c2be4d14f6a8b7c9d0e1f2a3b4c")
    reference, _ = submit_account_opening(chat)
    with runtime.services.db.session() as s:
        app = apps.by_reference(s, reference)
        owner = s.get(Customer, app.customer_id)
        assert summary(s, runtime.services, app, reveal=False)["customer"] == "张三 (web)"
        assert customer_label(s, owner, "zh") == "张三（web）"
        stranger = Customer(channel="telegram", external_id="12345", display_name=None)
        s.add(stranger)
        s.flush()
        assert customer_label(s, stranger, "en") == f"telegram customer #{stranger.id}"
