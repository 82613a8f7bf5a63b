"""The console's conversation search in a real browser: an agent fills the form, finds the web
chat customer by the text of a message and opens the conversation from the result."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from test_console_browser import login, say

from storage.models import Customer

pytestmark = pytest.mark.browser


def test_agent_finds_a_conversation_by_its_text(browser, site, shots):
    base, runtime = site
    customer = browser.new_context(viewport={"width": 420, "height": 760}, locale="zh-CN").new_page()
    customer.goto(base + "/")
    expect(customer.locator("#log")).to_contain_text("您好")
    say(customer, "社保卡丢了怎么补办")
    with runtime.services.db.session() as s:
        s.execute(update(Customer).values(display_name="张三", phone="13800138000"))

    agent = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    login(agent, base, "alice", "/console/search")
    expect(agent).to_have_url(re.compile(r"/console/search$"))
    agent.fill("input[name=text]", "社保卡")
    agent.select_option("select[name=channel]", "web")
    agent.click("#search-form button[type=submit]")
    results = agent.locator("#search-results")
    expect(results).to_contain_text("张三")
    expect(results).to_contain_text("138****8000")  # an agent sees the phone masked
    expect(results).to_contain_text("社保卡丢了怎么补办")
    agent.screenshot(path=str(shots / "console-search.png"), full_page=True)
    results.locator("a", has_text="张三").click()
    expect(agent).to_have_url(re.compile(r"/console/conversations/\d+$"))
    expect(agent.locator("body")).to_contain_text("社保卡丢了怎么补办")
