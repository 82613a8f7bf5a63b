"""Console login, lockout, CSRF and role checks over HTTP."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.app import Runtime
from bot.auth import add_staff
from bot.web.app import create_app


@pytest.fixture
def client(sqlite_settings):
    runtime = Runtime.build(sqlite_settings, channels={})
    with runtime.services.db.session() as s:
        add_staff(s, "alice", "correct horse", "supervisor", "Alice")
        add_staff(s, "rita", "reviewer pass", "reviewer", "Rita")
    with TestClient(create_app(runtime, start_workers=False)) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username, password):
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(page.text), "next": "/console/outbox"},
                       follow_redirects=False)


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
    page = client.get("/console/login")
    response = client.post("/console/login", data={"username": "alice", "password": "correct horse",
                                                   "csrf_token": csrf_of(page.text), "next": "https://evil.example/"},
                           follow_redirects=False)
    assert response.headers["location"] == "/console"
