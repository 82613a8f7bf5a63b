"""Telegram voice messages end to end: the update, getFile and the download from the fake Bot
API, recognition, the answer to the words, and the audio kept in the transcript."""

from __future__ import annotations

from sqlalchemy import select

from handlers.i18n import t
from storage.models import Attachment, Message
from tests.speech_audio import needs_espeak, voice_bytes


def kept_audio(tg) -> tuple[Message, Attachment]:
    with tg.db.session() as s:
        message = s.scalars(select(Message).where(Message.direction == "in")).one()
        return message, s.scalars(select(Attachment)).one()


@needs_espeak
async def test_a_voice_question_is_answered_with_what_was_heard_first(tg, recognizer, tmp_path, monkeypatch):
    monkeypatch.setattr(tg.runtime.engine, "speech", recognizer)  # the model loaded once for the run
    audio = voice_bytes("Can I pay fees with a foreign bank card?", "en", tmp_path)
    await tg.post(tg.api.voice_update(audio, language_code="en"))
    await tg.settle()
    heard, answer = tg.api.texts()[:2]
    assert heard.startswith("🎤 You said:") and "foreign bank card" in heard.lower()
    assert "card" in answer.lower() and "You said" not in answer  # the FAQ's answer to the words
    message, attachment = kept_audio(tg)
    assert "foreign bank card" in message.text.lower()
    assert message.payload["attachments"] == [attachment.id] and attachment.mime == "audio/ogg"
    assert tg.runtime.services.attachments.path_for(attachment.sha256).read_bytes() == audio


async def test_a_chinese_speaker_is_asked_to_type_and_staff_can_listen(tg, recognizer, monkeypatch):
    monkeypatch.setattr(tg.runtime.engine, "speech", recognizer)  # English only: a zh user is not misheard
    await tg.post(tg.api.voice_update(b"OggS\x00\x02" + b"\x00" * 300, kind="audio"))  # language_code zh-hans
    await tg.settle()
    assert tg.api.texts() == [t("voice.not_recognised", "zh")]
    message, attachment = kept_audio(tg)
    assert message.text == "" and message.payload["attachments"] == [attachment.id]
