"""The queue, a conversation and a case page at a phone's width (390 px): nothing wider than
the screen, and table columns wide enough to read."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_console_browser import login
from tests.testbot import Customer

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def narrowest_cell(page, selector: str) -> float:
    return page.evaluate(f"""Math.min(...Array.from(document.querySelectorAll('{selector} td'))
                                     .map(td => td.getBoundingClientRect().width))""")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_console_pages_are_usable_at_390_px(browser, site, shots):
    base, runtime = site
    visitor = Customer(runtime, "phone-visitor-0001")
    visitor.send("社保卡丢了怎么补办")
    visitor.send(button="handoff:request")
    agent = browser.new_context(viewport=PHONE).new_page()
    login(agent, base, "alice", "/console/queue")
    expect(agent.locator("#waiting")).to_contain_text("社保卡丢了怎么补办")
    assert fits_the_screen(agent) and narrowest_cell(agent, "#waiting") >= 60
    agent.screenshot(path=str(shots / "console-queue-phone.png"), full_page=True)
    agent.locator("#waiting button.take").click()
    expect(agent).to_have_url(re.compile(r"/console/conversations/\d+$"))
    expect(agent.locator("#transcript")).to_contain_text("社保卡丢了怎么补办")
    assert fits_the_screen(agent)
    agent.goto(base + "/console/complaints")
    assert fits_the_screen(agent)
