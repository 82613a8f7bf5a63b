"""WeCom voice messages end to end: the callback (or kf/sync_msg), the AMR audio from media/get,
WeCom's own Recognition used when it sends one, recognition otherwise, the answer to the words."""

from __future__ import annotations

from sqlalchemy import select

from handlers.i18n import t
from speech import Heard
from storage.models import Attachment, Message
from tests.integration.wecom.wecom_sim import callback, kf_event_xml, voice_xml
from tests.speech_audio import encode, needs_espeak, silence, voice_bytes


class MustNotListen:
    def transcribe(self, audio: bytes, language: str | None = None) -> Heard | None:
        raise AssertionError("WeCom's Recognition was sent: the bot has nothing to recognise")


def kept(bot) -> tuple[Message, Attachment]:
    with bot.db.session() as s:
        return s.scalars(select(Message).where(Message.direction == "in")).one(), s.scalars(select(Attachment)).one()


def test_wecom_recognition_is_used_and_the_amr_kept(bot, fake, monkeypatch, tmp_path):
    monkeypatch.setattr(bot.runtime.engine, "speech", MustNotListen())
    amr = encode(silence(tmp_path), "amr")
    fake.media["VOICE1"] = (amr, "voice.amr", "audio/amr")
    bot.post(*callback(voice_xml("zhangsan", "VOICE1", "8301", recognition="办事大厅在哪里？")))
    bot.pump()
    heard, answer = [c["text"]["content"] for c in fake.calls_to("message/send")][:2]
    assert heard == t("voice.heard", "zh", text="办事大厅在哪里？")
    assert "大厅" in answer and "您说的是" not in answer
    message, attachment = kept(bot)
    assert message.text == "办事大厅在哪里？" and message.payload["attachments"] == [attachment.id]
    assert attachment.mime == "audio/amr" and attachment.size == len(amr)


@needs_espeak
def test_without_recognition_the_amr_is_recognised(bot, fake, monkeypatch, recognizer, tmp_path):
    monkeypatch.setattr(bot.runtime.engine, "speech", recognizer)
    fake.media["VOICE2"] = (
        voice_bytes("Can I pay fees with a foreign bank card?", "en", tmp_path, "amr"),
        "voice.amr",
        "audio/amr",
    )
    bot.post(*callback(voice_xml("lisi", "VOICE2", "8302")))
    bot.pump()
    heard = fake.calls_to("message/send")[0]["text"]["content"]
    assert heard.startswith("🎤 You said:") and "bank card" in heard.lower()


def test_a_kf_voice_that_says_nothing_is_answered_honestly(bot, fake, monkeypatch, recognizer, tmp_path):
    monkeypatch.setattr(bot.runtime.engine, "speech", recognizer)
    fake.media["KFVOICE"] = (encode(silence(tmp_path), "amr"), "voice.amr", "audio/amr")
    fake.add_kf_message("wmCustomer", "kf-voice-1", "", msgtype="voice", voice={"media_id": "KFVOICE"})
    assert bot.post(*callback(kf_event_xml("tok-1", "wkKF1"))).status_code == 200
    bot.pump()
    (sent,) = fake.calls_to("kf/send_msg")
    assert sent["text"]["content"] == t("voice.not_recognised", "zh")
    message, attachment = kept(bot)
    assert message.text == "" and message.payload["attachments"] == [attachment.id]
