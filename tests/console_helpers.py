"""Signing in to the console over HTTP, a REST client with an admin token, and a knowledge answer to show on the
console's pages: shared by the console and API tests."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from bot.app import Runtime
from bot.config import Settings
from bot.web.app import create_app
from domain.staff import add_staff, create_api_token
from knowledge import Answer, Hit  # noqa: F401  (re-exported: the console tests build stand-in answers with them)
from speech import Recognizer
from tests.testbot import build_runtime


@contextmanager
def console_app(settings: Settings, accounts: list[tuple[str, str, str, str]],
                speech: Recognizer | None = None) -> Iterator[tuple[Runtime, TestClient]]:
    """A runtime (stand-in knowledge; ``speech`` its recognizer, if given) with these staff accounts
    (username, password, role, display name) and a client of its app."""
    runtime = build_runtime(settings, speech=speech)
    with runtime.services.db.session() as s:
        for username, password, role, display_name in accounts:
            add_staff(s, username, password, role, display_name)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield runtime, client


@contextmanager
def admin_api_client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app (stand-in knowledge) that sends an admin API token with every request."""
    runtime = build_runtime(settings)
    with runtime.services.db.session() as s:
        token = create_api_token(s, "admin-tool", "admin")
    with TestClient(create_app(runtime, start_workers=False)) as client:
        client.headers["authorization"] = f"Bearer {token}"
        yield client
    runtime.services.db.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def console_login(client, username: str, password: str, next_page: str = "/console"):
    """Post the login form the way a browser does (its CSRF token first); the response is not followed."""
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(page.text), "next": next_page},
                       follow_redirects=False)
