"""The web chat in a real browser (Debian's chromium through Playwright): two browsers of one
customer, notices in the chat the case came from."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.config import Settings
from domain import applications as apps
from tests.browser.conftest import SampleKnowledge, serve
from tests.integration.applications.helpers import GOOD_ID, PDF, PNG

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"[A-Z]{2,4}-\d{8}-[0-9A-Z]{4}")


@pytest.fixture
def desk(sqlite_settings: Settings) -> Iterator[tuple[str, Runtime]]:
    """(base URL, runtime) of a live server with the sample services, staff round the clock."""
    runtime = Runtime.build(sqlite_settings.model_copy(update={"handoff_hours": "always"}), channels={},
                            knowledge=SampleKnowledge())
    for url in serve(runtime):
        yield url, runtime
    runtime.services.db.dispose()


def say(page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def upload(page, tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.set_input_files("#file", str(path))


def bot_count(page) -> int:
    return page.locator("#log li.bot").count()


def wait_for_bot(page, text: str) -> None:
    page.locator("#log li.bot", has_text=text).last.wait_for(timeout=15_000)


def apply_for_an_account(page, tmp_path: Path) -> tuple[str, str]:
    """个人账户开户 typed and uploaded through the page; the reference and check code it shows."""
    say(page, "我要办理开户")
    wait_for_bot(page, "申请人姓名")
    say(page, "张三")
    wait_for_bot(page, "第 2/6 项")
    say(page, GOOD_ID)
    wait_for_bot(page, "第 3/6 项")
    upload(page, tmp_path, "front.png", PNG)
    wait_for_bot(page, "第 4/6 项")
    upload(page, tmp_path, "back.pdf", PDF)
    wait_for_bot(page, "第 5/6 项")
    say(page, "13812345678")
    wait_for_bot(page, "第 6/6 项")
    page.locator("#log li.bot").last.locator("button", has_text="跳过").click()
    wait_for_bot(page, "请核对")
    page.locator("#log li.bot").last.locator("button", has_text="确认提交").click()
    wait_for_bot(page, "校验码")
    done = page.locator("#log li.bot", has_text="校验码").last.inner_text()
    return REFERENCE.search(done).group(0), done.split("校验码：")[1][:6]


def test_notice_goes_to_the_browser_the_application_came_from(browser, desk, tmp_path):
    base, runtime = desk
    a, b = browser.new_context(locale="zh-CN").new_page(), browser.new_context(locale="zh-CN").new_page()
    a.goto(base + "/")
    wait_for_bot(a, "")
    reference, code = apply_for_an_account(a, tmp_path)
    b.goto(base + "/")
    wait_for_bot(b, "")
    say(b, f"查询 {reference}")
    wait_for_bot(b, "校验码")
    say(b, code)
    wait_for_bot(b, "身份验证成功")
    seen_in_b = bot_count(b)
    with runtime.services.db.session() as s:
        apps.transition(s, runtime.services, apps.by_reference(s, reference), "initial_review",
                        apps.Actor("staff", "rita"))
    a.locator("#log li.bot", has_text="已进入初审").wait_for(timeout=15_000)  # the page polls every 3 s
    b.wait_for_timeout(4_000)  # one poll of B's page later
    assert bot_count(b) == seen_in_b


def test_reload_restores_the_chat_and_its_last_buttons_work(browser, desk, shots):
    """(docs/screenshots/webchat.png is this test's page.)"""
    base, _ = desk
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(base + "/")
    wait_for_bot(page, "您好")
    say(page, "办理业务")  # a visible button's label, typed: the same as pressing it
    wait_for_bot(page, "个人账户开户")
    before = page.locator("#log li").all_inner_texts()
    page.reload()
    page.locator("#log li.bot", has_text="个人账户开户").last.wait_for(timeout=15_000)
    assert page.locator("#log li").all_inner_texts() == before
    assert page.locator("#log li.me").last.inner_text() == "办理业务"
    page.locator("#log li.bot").last.locator("button", has_text="个人账户开户").click()
    wait_for_bot(page, "需要准备的材料")
    page.screenshot(path=str(shots / "webchat.png"), full_page=True)


def test_an_english_browser_gets_the_page_and_the_greeting_in_english(browser, desk):
    base, _ = desk
    page = browser.new_context(locale="en-US").new_page()
    page.goto(base + "/")
    wait_for_bot(page, "Hello")
    assert page.get_attribute("html", "lang") == "en" and page.get_attribute("#text", "placeholder")
    assert page.locator("#log li.bot button", has_text="Talk to a person").count() == 1
