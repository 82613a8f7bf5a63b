"""A live server on a free port and Debian's chromium driven by Playwright."""
from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.app import Runtime
from bot.config import Settings
from bot.web.app import create_app
from domain.staff import hash_password
from storage.models import StaffUser
from tests.console_helpers import Answer, Hit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serve(runtime: Runtime) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime, start_workers=False), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: BOT_SCREENSHOTS_DIR (to refresh docs/screenshots) or a temporary folder."""
    target = Path(os.environ.get("BOT_SCREENSHOTS_DIR") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


class SampleKnowledge:
    """Stands in for the KnowledgeRuntime so the knowledge pages have something to show."""

    entries = [{"id": "social-card-replace", "question": "社保卡丢了怎么补办", "alternates": ["补办社保卡"],
                "answer": "携带身份证到服务大厅办理。", "lang": "zh", "tags": ["社保"]},
               {"id": "opening-hours", "question": "营业时间是几点", "alternates": ["几点开门"],
                "answer": "工作日 9:00-17:00。", "lang": "zh", "tags": ["通用"]}]

    def ask(self, text, lang=None):
        return Answer("suggest", 0.58, [Hit("social-card-replace", 0.58, "社保卡丢了怎么补办"),
                                        Hit("opening-hours", 0.21, "营业时间是几点")])

    def entry(self, entry_id):
        return next((e for e in self.entries if e["id"] == entry_id), None)


ACCOUNTS = [("alice", "agent", True), ("bob", "agent", True), ("rita", "reviewer", False),
            ("carl", "content_manager", False), ("sue", "supervisor", False), ("ada", "admin", False)]


@pytest.fixture
def site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """(base URL, runtime) of a live server: staff at work round the clock, one account per role
    (password ``password-123``), and sample knowledge."""
    runtime = Runtime.build(sqlite_settings.model_copy(update={"handoff_hours": "always",
                                                               "knowledge_dir": tmp_path / "kb"}), channels={},
                            knowledge=SampleKnowledge())
    hashed = hash_password("password-123")
    with runtime.services.db.session() as s:
        for username, role, on_duty in ACCOUNTS:
            s.add(StaffUser(username=username, display_name=username.title(), password_hash=hashed, role=role,
                            on_duty=on_duty))
    for url in serve(runtime):
        yield url, runtime
    runtime.services.db.dispose()
