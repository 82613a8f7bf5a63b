"""Replies out: rate limits, outages, blocked chats, long texts, escaping, buttons; on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import PermanentSendError, TemporarySendError
from bot.channels.telegram import MAX_TEXT, TelegramChannel
from bot.channels.toolkit import SentParts
from handlers.i18n import t
from handlers.messages import Button, FileRef, Reply
from storage.models import OutboxItem, utcnow


def outbox(db) -> list[OutboxItem]:
    with db.session() as s:
        return list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))


async def test_429_is_waited_out_then_the_reply_is_resent(tg):
    tg.api.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    await tg.post(tg.api.text_update("/start"))
    await tg.settle()
    assert tg.api.sent == []
    [item] = outbox(tg.db)
    assert item.status == "pending" and "rate limited" in item.last_error
    wait = item.next_attempt_at - utcnow()
    assert timedelta(seconds=5) < wait <= timedelta(seconds=7)  # Telegram's retry_after, not the backoff
    tg.make_due()
    await tg.settle()
    assert tg.api.texts() == [t("menu.welcome", "zh")]
    assert [i.status for i in outbox(tg.db)] == ["sent"]


async def test_outage_delays_replies_and_loses_none(tg):
    """Connection resets, 500s and 502s for a while; then every reply arrives once, in order per chat."""
    tg.api.fail("sendMessage", network=True, times=2)
    tg.api.fail("sendMessage", 500, times=3)
    tg.api.fail("sendMessage", 502, "Bad Gateway", times=2)
    said = {42: ["/start", "/help", "/lang", "English"], 43: ["/help", "/menu"]}
    for i in range(4):
        for chat, lines in said.items():
            if i < len(lines):
                await tg.post(tg.api.text_update(lines[i], chat_id=chat))
    await tg.settle()
    rounds = 1
    while any(i.status == "pending" for i in outbox(tg.db)):
        await tg.settle()
        tg.make_due()
        rounds += 1
        assert rounds < 20
    assert rounds > 1  # the outage really held replies back
    assert tg.api.texts(42) == [t("menu.welcome", "zh"), t("menu.help", "zh"), t("lang.choose", "zh"),
                                t("lang.switched", "en")]
    assert tg.api.texts(43) == [t("menu.help", "zh"), t("menu.welcome", "zh")]
    assert all(i.status == "sent" for i in outbox(tg.db))


async def test_blocked_chat_fails_the_reply_at_once(tg):
    tg.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await tg.post(tg.api.text_update("/start"))
    await tg.settle()
    [item] = outbox(tg.db)
    assert item.status == "failed" and "blocked" in item.last_error and item.attempts == 1


async def test_long_reply_is_split_at_paragraphs(tg):
    paragraphs = [f"第{i}段。" + "内容" * 700 for i in range(5)]  # 1403 characters each
    text = "\n\n".join(paragraphs)
    await tg.channel.send("42", Reply(text, [Button("OK", "menu:main")]))
    sent = tg.api.sent
    assert len(sent) == 3
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= MAX_TEXT for m in sent)
    assert "\n\n".join(m["text"] for m in sent) == text  # cut only between paragraphs
    assert [m["reply_markup"] is not None for m in sent] == [False, False, True]  # buttons under the last


async def test_split_reply_resumes_where_it_stopped(tg):
    text = "\n\n".join(["A" * 3000, "B" * 3000, "C" * 3000])
    tg.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, after=1)
    row = SentParts()  # what the outbox row remembers between tries
    with pytest.raises(TemporarySendError) as raised:
        await tg.channel.send("42", Reply(text), row)
    assert raised.value.retry_after == 1
    assert [m["text"][0] for m in tg.api.sent] == ["A"]
    await tg.new_channel().send("42", Reply(text), row)  # another worker retries
    assert [m["text"][0] for m in tg.api.sent] == ["A", "B", "C"]
    await tg.channel.send("42", Reply(text))  # the same reply again later is a new message
    assert [m["text"][0] for m in tg.api.sent] == ["A", "B", "C", "A", "B", "C"]


async def test_text_can_never_inject_formatting(tg):
    nasty = "<b>bold</b> & <script>x</script> 5 < 6 > 4 *stars* _under_ [l](http://x) &amp; </i>"
    await tg.channel.send("42", Reply(nasty, [Button("<i>a & b</i>", "menu:main")],
                                      [FileRef("报告 <1>.pdf", url="https://example.org/r?a=1&b=\"2\"")]))
    [sent] = tg.api.sent  # the fake parses HTML strictly, as Telegram does, and would refuse a broken one
    assert sent["text"].startswith(nasty + "\n\n📎 报告 <1>.pdf")
    assert 'href="https://example.org/r?a=1&amp;b=&quot;2&quot;"' in sent["html"]
    assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "<i>a & b</i>"  # labels are plain text


async def test_stored_files_go_as_documents(tg):
    with tg.db.session() as s:
        attachment = tg.runtime.services.attachments.save(s, b"%PDF-1.4\n% a receipt\n", "receipt.pdf")
        attachment_id = attachment.id
    await tg.channel.send("42", Reply("Your receipt:", [Button("Menu", "menu:main")],
                                      [FileRef("回执.pdf", attachment_id=attachment_id)]))
    text, document = tg.api.sent
    assert text["text"] == "Your receipt:" and text["reply_markup"] is None
    assert document["document"] == ("回执.pdf", b"%PDF-1.4\n% a receipt\n")
    assert document["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "menu:main"


async def test_buttons_without_text_still_show_and_an_empty_reply_sends_nothing(tg):
    await tg.channel.send("42", Reply("", [Button("Menu", "menu:main")]))
    assert tg.api.sent[0]["reply_markup"]["inline_keyboard"] == [[{"text": "Menu", "callback_data": "menu:main"}]]
    assert await tg.channel.send("42", Reply("  \n ")) is None
    assert len(tg.api.sent) == 1


async def test_missing_attachment_is_a_permanent_failure(tg):
    with pytest.raises(PermanentSendError):
        await tg.channel.send("42", Reply("", files=[FileRef("gone.pdf", attachment_id=999)]))


async def test_long_button_payloads_are_kept_server_side(tg):
    long_payload = "application:doc:" + "材料" * 40  # 256 bytes in UTF-8
    await tg.channel.send("42", Reply("Pick", [Button("Upload", long_payload), Button("Menu", "menu:main")]))
    data = [b["callback_data"] for row in tg.api.sent[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert len(data[0].encode()) <= 64 and data[0].startswith("#") and data[1] == "menu:main"
    other_worker = tg.new_channel()
    [pressed] = await other_worker.parse(tg.api.callback_update(data[0]))
    assert pressed.button == long_payload
    [stale] = await other_worker.parse(tg.api.callback_update("#" + "0" * 40))
    assert stale.button == "#" + "0" * 40  # unknown key: the engine answers "that button is no longer valid"


async def test_unknown_stored_button_gets_an_honest_answer(tg):
    await tg.post(tg.api.callback_update("#" + "f" * 40))
    await tg.settle()
    assert tg.api.texts() == [t("fallback.stale_button", "zh")]


async def test_phone_request_uses_a_contact_keyboard(tg):
    await tg.channel.send("42", Reply("Your phone number?", [Button("Share my number", "share:phone"),
                                                             Button("Skip", "application:skip_phone")]))
    markup = tg.api.sent[0]["reply_markup"]
    assert markup["keyboard"] == [[{"text": "Share my number", "request_contact": True}], [{"text": "Skip"}]]
    assert markup["one_time_keyboard"] is True
    [contact] = await tg.channel.parse(tg.api.contact_update("+8613800138000"))
    assert contact.contact_phone == "+8613800138000"
    [skip] = await tg.channel.parse(tg.api.text_update("Skip"))
    assert skip.button == "application:skip_phone" and skip.text == ""

    await tg.channel.send("42", Reply("Thanks."))  # the next reply takes the keyboard away
    assert tg.api.sent[1]["reply_markup"] == {"remove_keyboard": True}
    [plain] = await tg.channel.parse(tg.api.text_update("Skip"))
    assert plain.button is None and plain.text == "Skip"
    await tg.channel.send("42", Reply("Anything else?"))
    assert tg.api.sent[2]["reply_markup"] is None


async def test_photo_download_failure_is_retried_by_the_inbox(tg):
    tg.api.fail("getFile", network=True)
    update = tg.api.photo_update(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    await tg.post(update)
    await tg.settle()
    assert tg.api.sent == []
    tg.make_due()
    await tg.settle()
    assert tg.api.texts()[0] == t("attachment.received", "zh", name=f"photo_{update['message']['message_id']}.jpg")


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_channel_refuses_to_start_without_a_token(sqlite_settings):
    from bot.app import build_services

    with pytest.raises(ValueError):
        TelegramChannel(sqlite_settings, build_services(sqlite_settings))
