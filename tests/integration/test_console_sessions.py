"""Logout, a password change, a role change and disabling end every console session of the
account at once, on every worker (two apps on one database)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.web.app import create_app
from storage.models import StaffUser
from tests.console_helpers import console_app, console_login, csrf_of
from tests.testbot import build_runtime

ACCOUNTS = [("root", "root password", "admin", "Root"), ("alice", "alice password", "supervisor", "Alice")]


@pytest.fixture
def two_workers(settings):
    """Worker A (where alice logs in and out) and worker B (where an old cookie is replayed)."""
    with console_app(settings, ACCOUNTS) as (runtime, client_a):
        with TestClient(create_app(build_runtime(settings), start_workers=False)) as client_b:
            yield runtime, client_a, client_b


def _cookie_of(client: TestClient, username: str, password: str) -> str:
    response = console_login(client, username, password)
    assert response.status_code == 303
    return client.cookies["sdb_console"]


def _opens(client: TestClient, cookie: str, path: str = "/console") -> bool:
    client.cookies.set("sdb_console", cookie)
    return client.get(path, follow_redirects=False).status_code == 200


def test_logout_ends_the_copied_cookie_on_the_other_worker(two_workers):
    _, a, b = two_workers
    cookie = _cookie_of(a, "alice", "alice password")
    assert _opens(b, cookie)
    page = a.get("/console")
    a.post("/console/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert not _opens(b, cookie)


def test_password_change_ends_other_sessions_and_keeps_this_one(two_workers):
    _, a, b = two_workers
    old = _cookie_of(b, "alice", "alice password")
    _cookie_of(a, "alice", "alice password")
    page = a.get("/console/password")
    response = a.post("/console/password", data={"current": "alice password", "new": "new alice pass",
                                                  "repeat": "new alice pass", "csrf_token": csrf_of(page.text)},
                      follow_redirects=False)
    assert response.status_code == 303
    assert a.get("/console", follow_redirects=False).status_code == 200
    assert not _opens(b, old)


@pytest.mark.parametrize("change", [("role", {"role": "agent"}), ("active", {"active": "0"}),
                                    ("password", {"password": "reset by root"})])
def test_an_admin_change_ends_the_accounts_sessions(two_workers, change):
    runtime, a, b = two_workers
    alice = _cookie_of(b, "alice", "alice password")
    _cookie_of(a, "root", "root password")
    with runtime.services.db.session() as s:
        alice_id = s.query(StaffUser).filter_by(username="alice").one().id
    path, data = change
    page = a.get("/console/staff")
    response = a.post(f"/console/staff/{alice_id}/{path}", data={**data, "csrf_token": csrf_of(page.text)},
                      follow_redirects=False)
    assert response.status_code == 303
    assert not _opens(b, alice)
