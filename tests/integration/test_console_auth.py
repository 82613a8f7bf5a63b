"""Console login, lockout, CSRF and role checks over HTTP."""
from __future__ import annotations

import re

import pytest

from storage.models import StaffUser
from tests.console_helpers import console_app, console_login


@pytest.fixture
def client(sqlite_settings):
    with console_app(sqlite_settings, [("alice", "correct horse", "supervisor", "Alice"),
                                       ("rita", "reviewer pass", "reviewer", "Rita")]) as (_, client):
        yield client


def login(client, username, password):
    return console_login(client, username, password, next_page="/console/outbox")


def test_anonymous_request_gets_the_login_page(client):
    response = client.get("/console/outbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")
    assert "password" in client.get("/console/outbox").text


def test_login_then_role_checked_page(client):
    response = login(client, "alice", "correct horse")
    assert response.status_code == 303 and response.headers["location"] == "/console/outbox"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "没有发送失败的消息" in client.get("/console/outbox").text


def test_reviewer_may_not_open_supervisor_page(client):
    login(client, "rita", "reviewer pass")
    response = client.get("/console/outbox", headers={"accept": "text/html"})
    assert response.status_code == 403


def test_post_without_csrf_token_is_refused(client):
    login(client, "alice", "correct horse")
    assert client.post("/console/outbox/1/retry", data={}).status_code == 403
    assert client.post("/console/login", data={"username": "alice", "password": "x"}).status_code == 403


def test_lockout_after_repeated_failures(client):
    for _ in range(4):
        assert login(client, "alice", "wrong").status_code == 401
    fifth = login(client, "alice", "wrong")
    assert "锁定" in fifth.text
    assert login(client, "alice", "correct horse").status_code == 401  # locked even with the right password


def test_open_redirect_is_refused(client):
    response = console_login(client, "alice", "correct horse", next_page="https://evil.example/")
    assert response.headers["location"] == "/console"


def test_unknown_username_answers_like_a_wrong_password(client):
    unknown = login(client, "nobody", "whatever pass")
    wrong = login(client, "alice", "whatever pass")
    assert unknown.status_code == wrong.status_code == 401
    assert _without_csrf(unknown.text) == _without_csrf(wrong.text)


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_unknown_and_real_accounts_look_the_same_after_five_tries(client):
    real = [_without_csrf(login(client, "alice", "wrong").text) for _ in range(6)]
    unknown = [_without_csrf(login(client, "nobody", "wrong").text) for _ in range(6)]
    assert real == unknown
    assert "锁定" in unknown[4] and "锁定" in unknown[5] and "锁定" not in unknown[3]


def test_only_the_right_password_learns_an_account_is_disabled(sqlite_settings):
    with console_app(sqlite_settings, [("dora", "dora password", "agent", "Dora")]) as (runtime, client):
        with runtime.services.db.session() as s:
            s.query(StaffUser).filter_by(username="dora").one().active = False
        assert _without_csrf(login(client, "dora", "wrong").text) == _without_csrf(login(client, "nobody", "x").text)
        assert "停用" in login(client, "dora", "dora password").text
