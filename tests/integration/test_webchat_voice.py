"""The web chat's recordings: ``POST /api/chat/voice`` (what the page's microphone button sends, WebM/Opus)
is answered like the words in it, first saying what was heard; the recording stays in the transcript,
where the staff console plays it."""

from __future__ import annotations

import pytest

from handlers.i18n import t
from tests.console_helpers import console_app, console_login
from tests.speech_audio import encode, needs_espeak, silence, voice_bytes

SESSION = "visitor-v001-5e8a1c3f9b7d20463ac9"


@pytest.fixture
def app(sqlite_settings, recognizer):
    with console_app(sqlite_settings, [("amy", "pw-amy-123456", "agent", "Amy")], speech=recognizer) as pair:
        yield pair


def record(client, audio: bytes, lang: str, name: str = "voice.webm"):
    return client.post(f"/api/chat/voice?lang={lang}", data={"session_id": SESSION}, files={"file": (name, audio)})


@needs_espeak
def test_a_recording_is_answered_like_the_words_in_it(app, tmp_path):
    _, client = app
    answer = record(client, voice_bytes("Can I pay fees with a foreign bank card?", "en", tmp_path, "webm"), "en")
    assert answer.status_code == 200
    heard, reply = (r["text"] for r in answer.json()["replies"][:2])
    assert heard.startswith("🎤 You said:") and "foreign bank card" in heard.lower()
    typed = client.post("/api/chat", json={"session_id": SESSION, "text": "Can I pay fees with a foreign bank card?"})
    assert typed.json()["replies"][0]["text"] == reply  # the same answer as the typed question
    transcript = client.get("/api/chat/messages", params={"session_id": SESSION, "after": 0}).json()["messages"]
    assert "foreign bank card" in transcript[0]["text"].lower()  # a reload shows what was said


def test_nothing_recognised_is_answered_honestly_and_staff_can_listen(app, tmp_path):
    _, client = app
    answer = record(client, encode(silence(tmp_path), "webm"), "zh")
    assert [r["text"] for r in answer.json()["replies"]] == [t("voice.not_recognised", "zh")]
    assert console_login(client, "amy", "pw-amy-123456").status_code == 303
    page = client.get("/console/conversations/1").text
    assert '<audio controls preload="none" src="/console/conversations/1/attachments/1">' in page
    audio = client.get("/console/conversations/1/attachments/1")
    assert audio.headers["content-type"] == "video/webm" and audio.headers["content-disposition"].startswith("inline")


def test_a_recording_over_the_upload_limit_is_413(app):
    runtime, client = app
    limit = runtime.services.settings.max_upload_bytes
    too_big = record(client, b"\x1aE\xdf\xa3" + b"\x00" * limit, "en")
    assert too_big.status_code == 413 and "larger than" in too_big.json()["error"]
