"""The web chat's microphone button in chromium: its fake microphone plays an espeak-ng question,
the page records it with MediaRecorder (WebM/Opus), sends it, and shows what was heard and the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, serve
from tests.speech_audio import needs_espeak, speak
from tests.testbot import build_runtime

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # and the speech model

QUESTION = "Can I pay fees with a foreign bank card?"


@pytest.fixture
def page_with_a_microphone(tmp_path: Path, sqlite_settings, recognizer) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    spoken = speak(QUESTION, "en", tmp_path)
    runtime = build_runtime(sqlite_settings, speech=recognizer)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={spoken}",
    ]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        for base in serve(runtime):
            page = chromium.new_context(locale="en-US").new_page()
            page.goto(base + "/?lang=en")
            yield page
        chromium.close()
    runtime.services.db.dispose()


@needs_espeak
def test_the_microphone_button_records_and_the_answer_says_what_was_heard(page_with_a_microphone):
    page = page_with_a_microphone
    page.locator("#log li.bot").first.wait_for(timeout=15_000)
    page.click("#record")
    page.wait_for_selector("#record.on")
    page.wait_for_timeout(3_500)  # the fake microphone plays the question (3 s)
    page.click("#record")
    heard = page.locator("#log li.bot", has_text="You said").last
    heard.wait_for(timeout=60_000)
    assert "bank card" in heard.inner_text().lower()
    assert page.locator("#log li.me").last.inner_text() == "🎤"
