"""The applications console in a real browser (Debian's chromium through Playwright): a reviewer
logs in, filters, opens a case and sends a correction request; the customer is told."""
from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn

from bot.app import Runtime
from bot.web.app import create_app
from domain.staff import add_staff
from tests.integration.applications.helpers import Chat
from tests.integration.applications.test_chat_flow import submit_account_opening

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: the full runtime, real embedding models
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live(sqlite_settings):
    runtime = Runtime.build(sqlite_settings, channels={})
    with runtime.services.db.session() as s:
        add_staff(s, "rita", "reviewer pass", "reviewer", "Rita")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime, start_workers=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield runtime, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    runtime.services.db.dispose()


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (.ci/run installs it)")
def test_reviewer_requests_a_correction_in_the_browser(live, tmp_path):
    """(The screenshot in docs/screenshots/ was taken from this test's page.)"""
    from playwright.sync_api import sync_playwright

    runtime, base = live
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        page.goto(f"{base}/console/applications")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", "reviewer pass")
        page.click("button[type=submit]")
        page.select_option("select[name=stage]", "received")
        page.click("text=筛选")
        page.click(f"text={reference}")
        assert page.locator("h1").inner_text().startswith(reference)
        page.check("input[name=material][value=id_card_back]")
        page.fill("input[name=note_id_card_back]", "证件已过期，请上传新证件")
        page.screenshot(path=str(tmp_path / "console-application.png"), full_page=True)
        page.click("text=发送补正通知")
        page.wait_for_url(f"{base}/console/applications/{reference}")
        assert "待补正" in page.inner_text("main")
        browser.close()
    assert "证件已过期，请上传新证件" in chat.outbox_texts()[-1]
