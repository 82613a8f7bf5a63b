"""The console in a real browser: an agent takes a web chat customer, both sides see each
other's words without reloading, and roles are enforced."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from domain import handoff
from storage.models import StaffUser

pytestmark = pytest.mark.browser
WAIT = 12_000  # ms; the pages poll every 3 s
PASSWORD = "password-123"  # every account of the ``site`` fixture


def login(page: Page, base: str, username: str, target: str) -> None:
    page.goto(base + target)
    expect(page.locator("input[name=password]")).to_be_visible()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")


def say(page: Page, text: str, answered: bool = True) -> None:
    """Send a line on the chat page; wait for the bot's answer (so lines reach the server in order)
    unless a person owns the chat and the bot stays silent."""
    answers = page.locator("#log li.bot")
    before = answers.count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    if answered:
        expect(answers).not_to_have_count(before)


def test_agent_takes_replies_and_hands_back(browser, site, shots):
    base, runtime = site
    agent = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    login(agent, base, "alice", "/console/queue")
    expect(agent).to_have_url(re.compile(r"/console/queue$"))
    expect(agent.locator("#waiting")).to_contain_text("目前没有等待的客户")
    agent.evaluate("window.__notReloaded = true")

    customer = browser.new_context(viewport={"width": 420, "height": 760}, locale="zh-CN").new_page()
    customer.goto(base + "/")
    expect(customer.locator("#log")).to_contain_text("您好")
    say(customer, "社保卡丢了怎么补办")
    say(customer, "转人工")
    expect(customer.locator("#log")).to_contain_text("第 1 位")

    # The waiting conversation appears on the open queue page by itself.
    expect(agent.locator("#waiting")).to_contain_text("社保卡丢了怎么补办", timeout=WAIT)
    assert agent.evaluate("window.__notReloaded") is True
    agent.screenshot(path=str(shots / "console-queue.png"))

    agent.locator("#waiting button.take").click()
    expect(agent).to_have_url(re.compile(r"/console/conversations/\d+$"))
    expect(agent.locator("#transcript")).to_contain_text("转人工")
    agent.fill("#reply-text", "您好，补办社保卡请携带身份证到服务大厅，工作日 9:00-17:00。")
    agent.click("#send")
    expect(customer.locator("#log")).to_contain_text("补办社保卡请携带身份证", timeout=WAIT)
    expect(customer.locator("#log")).to_contain_text("客服 Alice 已接入")

    agent.evaluate("window.__notReloaded = true")
    say(customer, "好的，需要带照片吗？", answered=False)
    expect(agent.locator("#transcript")).to_contain_text("需要带照片吗", timeout=WAIT)
    assert agent.evaluate("window.__notReloaded") is True
    agent.fill(".card textarea[name=text]:not(#reply-text)", "客户第二次来问补办")
    agent.click("#add-note")
    expect(agent.locator("#notes")).to_contain_text("客户第二次来问补办")
    agent.screenshot(path=str(shots / "console-conversation.png"), full_page=True)
    customer.screenshot(path=str(shots / "webchat-with-agent.png"))

    agent.click("#handback")
    expect(customer.locator("#log")).to_contain_text("智能客服继续为您服务", timeout=WAIT)
    assert "客户第二次来问补办" not in customer.locator("#log").inner_text()  # notes stay internal
    with runtime.services.db.session() as s:
        assert handoff.waiting(s) == [] and handoff.owned_by(s, s.query(StaffUser).filter_by(username="alice").one().id) == []

    boss = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(boss, base, "sue", "/console/dashboard")
    expect(boss.locator("#fig-handoff-handoffs")).to_have_text("1")
    boss.screenshot(path=str(shots / "console-dashboard.png"), full_page=True)

    boss.goto(base + "/console/knowledge/try?q=补办社保卡")
    expect(boss.locator("#decision")).to_be_visible()
    boss.screenshot(path=str(shots / "console-knowledge-try.png"))


def test_role_checks_in_the_browser(browser, site, shots):
    base, _runtime = site
    anonymous = browser.new_context().new_page()
    anonymous.goto(base + "/console/queue")
    expect(anonymous).to_have_url(re.compile(r"/console/login\?next="))
    expect(anonymous.locator("input[name=password]")).to_be_visible()
    anonymous.screenshot(path=str(shots / "console-login.png"))

    reviewer = browser.new_context().new_page()
    login(reviewer, base, "rita", "/console/knowledge/new")
    expect(reviewer.locator("h1")).to_have_text("403")
    expect(reviewer.locator("#save-entry")).to_have_count(0)
    reviewer.goto(base + "/console/knowledge")
    expect(reviewer.locator("h1")).to_have_text("403")

    editor = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    login(editor, base, "carl", "/console/knowledge/new")
    expect(editor.locator("#save-entry")).to_be_visible()

    admin = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    login(admin, base, "ada", "/console/staff")
    expect(admin.locator("#staff-rita")).to_contain_text("审核员")
    admin.screenshot(path=str(shots / "console-staff.png"), full_page=True)
