"""Signing in to the console over HTTP, and a knowledge answer to show on its pages: shared by the console tests."""
from __future__ import annotations

import re
from dataclasses import dataclass, field


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def console_login(client, username: str, password: str, next_page: str = "/console"):
    """Post the login form the way a browser does (its CSRF token first); the response is not followed."""
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(page.text), "next": next_page},
                       follow_redirects=False)


@dataclass
class Hit:
    entry_id: str
    score: float
    question: str


@dataclass
class Answer:
    """The shape of KnowledgeRuntime.ask's answer, for stand-in knowledge on the console pages."""

    decision: str
    confidence: float
    hits: list[Hit] = field(default_factory=list)
