"""Voice messages in the dialog: the transcript is answered exactly like the same text, the customer
is shown what was heard, and audio that says nothing recognisable is answered honestly and kept
for staff. A stand-in recognizer says what it was told to hear, so no speech model loads here."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from handlers.messages import IncomingFile, VoiceMessage
from speech import Heard, UndecodableAudio
from storage.models import Attachment, Message
from tests.testbot import TestBot

#: The start of an OGG file: the attachment store keeps it as audio/ogg.
OGG = b"OggS\x00\x02" + b"\x00" * 200


@dataclass
class StandInRecognizer:
    """Hears ``text`` in any audio (None: nothing); records each call's language."""

    text: str | None = None
    languages: list[str | None] = field(default_factory=list)

    def transcribe(self, audio: bytes, language: str | None = None) -> Heard | None:
        self.languages.append(language)
        if audio.startswith(b"not audio"):
            raise UndecodableAudio("no audio stream")
        return Heard(self.text) if self.text else None


def voice(data: bytes = OGG, transcript: str | None = None) -> VoiceMessage:
    return VoiceMessage(IncomingFile(data, "voice_1.ogg", "audio/ogg"), transcript)


def customer_messages(bot: TestBot) -> list[Message]:
    with bot.runtime.services.db.session() as s:
        return list(s.scalars(select(Message).where(Message.sender == "customer").order_by(Message.id)))


def test_a_voice_question_is_answered_like_the_same_text_and_says_what_was_heard(tmp_path):
    bot = TestBot(tmp_path, speech=StandInRecognizer("营业时间是几点"))
    typed = bot.customer("typed-1")
    said = [r.text for r in bot.send(voice=voice())]
    assert said[0] == "🎤 您说的是：“营业时间是几点”（如果听错了，请直接打字告诉我）"
    assert said[1:] == typed.say("营业时间是几点")
    (message,) = customer_messages(bot)[:1]
    assert message.text == "营业时间是几点"
    with bot.runtime.services.db.session() as s:
        (audio,) = s.scalars(select(Attachment))
        assert message.payload["attachments"] == [audio.id] and audio.mime == "audio/ogg"


def test_english_says_you_said(tmp_path):
    bot = TestBot(tmp_path, speech=StandInRecognizer("How much does it cost?"))
    bot.say("hello")  # the conversation is in English now
    assert bot.say("", voice=voice())[0] == '🎤 You said: "How much does it cost?" (if I misheard, just type it)'


def test_the_recognizer_is_told_the_language_the_customer_is_known_to_speak(tmp_path):
    recognizer = StandInRecognizer("hello")
    bot = TestBot(tmp_path, speech=recognizer)
    bot.say("", voice=voice(), lang_hint="en")  # a new chat: the platform's hint
    bot.say("", voice=voice())  # later: the conversation's own language
    newcomer = bot.customer("new-1")
    newcomer.say("", voice=voice())  # nothing known: the model decides
    assert recognizer.languages == ["en", "en", None]


def test_nothing_recognised_is_said_honestly_and_the_audio_kept_for_staff(tmp_path):
    bot = TestBot(tmp_path, speech=StandInRecognizer(None))
    assert bot.say("", voice=voice()) == [
        "抱歉，我没能听清您的语音消息。请用文字输入您的问题，工作人员也能听到这条语音。"
    ]
    (message,) = customer_messages(bot)
    assert message.text == "" and len(message.payload["attachments"]) == 1
    assert bot.say("", voice=voice(b"not audio, a text file")) == [
        "抱歉，我没能听清您的语音消息。请用文字输入您的问题，工作人员也能听到这条语音。"
    ]


def test_a_platform_transcript_is_used_without_asking_the_recognizer(tmp_path):
    recognizer = StandInRecognizer("something else")
    bot = TestBot(tmp_path, speech=recognizer)
    said = bot.say("", voice=voice(transcript="办理业务收费吗"))
    assert said[0].startswith("🎤 您说的是：“办理业务收费吗”") and "大部分业务免费" in said[1]
    assert recognizer.languages == []


def test_a_voice_message_is_not_handed_to_handlers_as_a_file(tmp_path):
    bot = TestBot(tmp_path, speech=StandInRecognizer("营业时间是几点"))
    result = bot.handle(voice=voice())
    assert result.replies and not any("已收到文件" in r.text for r in result.replies)


def test_a_voice_message_over_the_upload_limit_is_refused_with_the_limit(tmp_path):
    bot = TestBot(tmp_path, speech=StandInRecognizer(None), max_upload_bytes=1024)
    big = VoiceMessage(IncomingFile(b"", "voice_2.ogg", "audio/ogg", declared_size=5 * 1024 * 1024))
    said = bot.say("", voice=big)
    assert any("voice_2.ogg" in line for line in said) and said[-1].startswith("抱歉，我没能听清")
