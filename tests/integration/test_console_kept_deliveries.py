"""Deliveries the workers gave up on (unparseable, failed every try) are listed for staff, shown as
received (escaped), and can be handed back to the workers."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from storage import inbox
from storage.models import InboxItem
from tests.console_helpers import console_app, console_login, csrf_of


@pytest.fixture
def desk(settings):
    with console_app(settings, [("sam", "supervisor pass", "supervisor", "Sam"),
                                ("rita", "reviewer pass", "reviewer", "Rita")]) as (runtime, client):
        yield runtime, client


def _kept(runtime, key: str, status: str, payload: dict) -> int:
    inbox.accept(runtime.services.db, "telegram", key, payload, chat_id="42")
    with runtime.services.db.session() as s:
        s.execute(update(InboxItem).where(InboxItem.delivery_key == key)
                  .values(status=status, last_error="telegram update does not parse: date missing"))
        return s.query(InboxItem.id).filter(InboxItem.delivery_key == key).scalar()


def test_kept_deliveries_are_listed_escaped_and_can_be_processed_again(desk):
    runtime, client = desk
    broken = _kept(runtime, "u1", "unparseable", {"message": {"text": "<script>alert(1)</script>"}})
    _kept(runtime, "u2", "failed", {"message": {"text": "second"}})
    inbox.accept(runtime.services.db, "telegram", "u3", {"message": {"text": "fine"}}, chat_id="42")
    console_login(client, "sam", "supervisor pass")
    page = client.get("/console/outbox").text
    assert "无法解析" in page and "处理失败" in page and "date missing" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "fine" not in page  # a pending delivery is the workers', not kept

    retried = client.post(f"/console/inbox/{broken}/retry", data={"csrf_token": csrf_of(page)},
                          follow_redirects=False)
    assert retried.status_code == 303
    with runtime.services.db.session() as s:
        item = s.get(InboxItem, broken)
        assert item.status == "pending" and item.attempts == 0 and item.last_error is None


def test_only_kept_deliveries_go_back_and_only_supervisors_may(desk):
    runtime, client = desk
    _kept(runtime, "u1", "unparseable", {"message": {}})
    inbox.accept(runtime.services.db, "telegram", "u2", {"message": {}}, chat_id="42")
    with runtime.services.db.session() as s:
        s.execute(update(InboxItem).where(InboxItem.delivery_key == "u2").values(status="done"))
        done = s.query(InboxItem.id).filter(InboxItem.delivery_key == "u2").scalar()
    console_login(client, "sam", "supervisor pass")
    token = csrf_of(client.get("/console/outbox").text)
    client.post(f"/console/inbox/{done}/retry", data={"csrf_token": token}, follow_redirects=False)
    with runtime.services.db.session() as s:
        assert s.get(InboxItem, done).status == "done"
    huge = client.post("/console/inbox/99999999999999999999/retry", data={"csrf_token": token},
                       follow_redirects=False)
    assert huge.status_code == 422
    client.post("/console/logout", data={"csrf_token": token})
    console_login(client, "rita", "reviewer pass")
    assert client.get("/console/outbox", headers={"accept": "text/html"}).status_code == 403
