"""The self-built app end to end: encrypted callbacks over HTTP -> inbox -> engine -> outbox ->
message/send on the fake WeCom API. Every test runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from handlers.messages import Reply
from storage.models import Attachment, Conversation, InboxItem, Message, OutboxItem
from storage.outbox import enqueue
from tests.integration.wecom.wecom_sim import (
    AES_KEY,
    AGENT_ID,
    KF_SECRET,
    SECRET,
    TOKEN,
    callback,
    event_xml,
    kf_event_xml,
    media_xml,
    text_xml,
    verification_query,
)


def count(bot, model, *where) -> int:  # noqa: ANN001
    with bot.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_url_verification_answers_the_decrypted_echostr(bot):
    answer = bot.client.get(f"/wecom/callback?{verification_query('echo-5150')}")
    assert answer.status_code == 200 and answer.text == "echo-5150"
    forged = verification_query("echo-5150", token="not-the-token")
    assert bot.client.get(f"/wecom/callback?{forged}").status_code == 403


def test_text_message_is_answered_through_message_send(bot, fake):
    answer = bot.post(*callback(text_xml("zhangsan", "你好", "1001")))
    assert answer.status_code == 200 and answer.text == ""
    assert count(bot, InboxItem) == 1  # recorded before the 200
    bot.pump()
    (sent,) = fake.calls_to("message/send")
    assert sent["touser"] == "zhangsan" and sent["agentid"] == AGENT_ID and sent["msgtype"] == "text"
    assert "智能客服" in sent["text"]["content"] and "\n1. " in sent["text"]["content"]
    assert count(bot, OutboxItem, OutboxItem.status == "sent") == 1


def test_a_number_answers_the_numbered_buttons(bot, fake):
    bot.post(*callback(text_xml("zhangsan", "你好", "1001")))
    bot.pump()
    bot.post(*callback(text_xml("zhangsan", "2", "1002", create_time=1700000001)))
    bot.pump()
    with bot.db.session() as s:
        buttons = [m.button for m in s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]
    assert buttons == [None, "application:start"]


def test_duplicate_msgid_is_processed_once(bot, fake):
    delivery = callback(text_xml("zhangsan", "你好", "2002"))
    for _ in range(3):  # WeCom retries when it did not get the answer in 5 seconds
        assert bot.post(*delivery).status_code == 200
    bot.pump()
    assert len(fake.calls_to("message/send")) == 1
    assert count(bot, Message, Message.direction == "in") == 1


def test_refused_callbacks_process_nothing(bot, fake):
    query, body = callback(text_xml("zhangsan", "你好", "3003"))
    forged, _ = callback(text_xml("zhangsan", "你好", "3003"), token="wrong-token")
    assert bot.post(forged, body).status_code == 403
    wrong_key = callback(text_xml("zhangsan", "hi", "3004"), aes_key="ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut")
    assert bot.post(*wrong_key).status_code == 400
    assert bot.post(query, b"<xml><Encrypt>").status_code == 400
    assert bot.post(query, b"<xml>" + b"x" * 70_000 + b"</xml>").status_code == 413
    assert bot.client.post("/wecom/callback", content=body).status_code == 422  # no signature at all
    bot.pump()
    assert count(bot, InboxItem) == 0 and fake.calls == []


def test_expired_token_is_refreshed_once_and_the_send_retried(bot, fake):
    bot.post(*callback(text_xml("zhangsan", "你好", "4001")))
    bot.pump()
    fake.expire_tokens()  # two hours later
    bot.post(*callback(text_xml("zhangsan", "/menu", "4002", create_time=1700000002)))
    bot.pump()
    sends = [(params["access_token"], body) for path, params, body in fake.calls if path == "message/send"]
    assert [token for token, _ in sends] == ["token-1", "token-1", "token-2"]
    assert fake.token_count == 2
    assert count(bot, OutboxItem, OutboxItem.status == "sent") == 2


def test_a_token_that_keeps_failing_is_not_fetched_without_end(bot, fake):
    fake.always_expired = True
    bot.post(*callback(text_xml("zhangsan", "你好", "5001")))
    bot.pump()
    assert fake.token_count == 2 and len(fake.calls_to("message/send")) == 2
    with bot.db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert item.status == "pending" and "42001" in item.last_error  # kept for a later try


def test_token_is_shared_by_all_workers(make_bot, fake):
    first, second = make_bot(), make_bot()
    first.post(*callback(text_xml("zhangsan", "你好", "6001")))
    first.pump()
    second.post(*callback(text_xml("lisi", "你好", "6002")))
    second.pump()
    assert fake.token_count == 1
    assert {body["touser"] for body in fake.calls_to("message/send")} == {"zhangsan", "lisi"}


def test_unreachable_wecom_delays_the_reply_and_loses_none(bot, fake):
    fake.down = True
    bot.post(*callback(text_xml("zhangsan", "你好", "7001")))
    bot.pump()
    assert fake.calls_to("message/send") == []
    with bot.db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert item.status == "pending" and "no answer from WeCom" in item.last_error
        item.next_attempt_at = item.created_at  # the backoff has passed
    fake.down = False
    bot.pump()
    assert len(fake.calls_to("message/send")) == 1
    assert count(bot, OutboxItem, OutboxItem.status == "sent") == 1


def test_image_is_downloaded_and_stored_as_attachment(bot, fake):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    fake.media["MEDIA1"] = (png, "photo.png", "image/png")
    bot.post(*callback(media_xml("zhangsan", "image", "MEDIA1", "8001")))
    bot.pump()
    with bot.db.session() as s:
        attachment = s.scalars(select(Attachment)).one()
        assert attachment.size == len(png) and attachment.original_name == "photo.png"


def test_types_the_bot_cannot_read_are_answered_with_a_notice(bot, fake):
    bot.post(*callback(media_xml("zhangsan", "video", "VIDEO1", "8102")))
    bot.post(*callback(media_xml("zhangsan", "location", "-", "8103")))
    bot.pump()
    video, location = (s["text"]["content"] for s in fake.calls_to("message/send"))
    assert "这类消息" in video and "这类消息" in location
    # issue 12: the notices are engine replies now, so they are in the transcript like any other
    assert count(bot, Message, Message.direction == "out") == 2


def test_a_notice_is_stored_and_sent_once_after_two_inbox_retries(bot, fake, monkeypatch):
    engine = bot.runtime.engine
    real = engine.handle_recorded
    failures = [RuntimeError("database hiccup"), RuntimeError("database hiccup")]

    def flaky(inbox_id, incomings):  # noqa: ANN001, ANN202
        if failures:
            raise failures.pop(0)
        return real(inbox_id, incomings)

    monkeypatch.setattr(engine, "handle_recorded", flaky)
    bot.post(*callback(media_xml("zhangsan", "video", "VIDEO9", "8109")))
    for _ in range(3):
        bot.pump()
        with bot.db.session() as s:
            for item in s.scalars(select(InboxItem)):
                item.next_attempt_at = item.created_at  # the backoff has passed
    bot.pump()
    assert count(bot, InboxItem, InboxItem.status == "done", InboxItem.attempts == 3) == 1
    with bot.db.session() as s:
        notices = list(s.scalars(select(Message.text).where(Message.direction == "out")))
    assert len(notices) == 1 and "这类消息" in notices[0]
    assert [c["text"]["content"] for c in fake.calls_to("message/send")] == notices


def test_an_oversized_image_is_refused_with_a_notice(make_bot, fake):
    bot = make_bot(max_upload_bytes=1024)
    fake.media["BIG"] = (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200_000, "big.png", "image/png")
    bot.post(*callback(media_xml("zhangsan", "image", "BIG", "8201")))
    bot.pump()
    assert count(bot, Attachment) == 0
    assert "超过" in fake.calls_to("message/send")[0]["text"]["content"]


def test_an_expired_media_id_asks_for_the_file_again(bot, fake):
    bot.post(*callback(media_xml("zhangsan", "image", "GONE", "8301")))
    bot.pump()
    (sent,) = fake.calls_to("message/send")
    assert "重新发送" in sent["text"]["content"]
    assert count(bot, InboxItem, InboxItem.status == "done") == 1


def test_enter_agent_opens_the_menu_and_a_menu_click_is_a_button(bot, fake):
    bot.post(*callback(event_xml("zhangsan", "enter_agent")))
    bot.post(*callback(event_xml("zhangsan", "click", "menu:ask", create_time=1700000009)))
    bot.post(*callback(event_xml("zhangsan", "view", "https://example.com", create_time=1700000010)))
    bot.pump()
    assert count(bot, InboxItem) == 2  # the view event is not recorded
    with bot.db.session() as s:
        incoming = list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))
    assert [(m.text, m.button) for m in incoming] == [("/start", None), ("", "menu:ask")]
    assert len(fake.calls_to("message/send")) == 2


def test_long_reply_is_split_into_sends_of_at_most_2048_bytes(bot, fake):
    bot.post(*callback(text_xml("zhangsan", "你好", "9001")))
    bot.pump()
    with bot.db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        enqueue(s, conversation, [Reply("很长的通知。" * 600)])
    bot.pump()
    sends = fake.calls_to("message/send")
    assert len(sends) == 1 + 6  # the fake refuses any text over 2,048 bytes with 44004
    assert "".join(s["text"]["content"] for s in sends[1:]) == "很长的通知。" * 600
    assert count(bot, OutboxItem, OutboxItem.status == "sent") == 2


def test_token_is_renewed_before_it_expires(bot, fake):
    bot.post(*callback(text_xml("zhangsan", "你好", "9101")))
    bot.pump()
    api = bot.channel("wecom").api
    api.client.expires_at = int(time.time()) + 30  # half a minute left of its two hours
    bot.post(*callback(text_xml("zhangsan", "/menu", "9102", create_time=1700000003)))
    bot.pump()
    assert fake.token_count == 2
    assert [params["access_token"] for path, params, _ in fake.calls if path == "message/send"] == ["token-1", "token-2"]


def test_a_split_reply_failing_part_way_resumes_without_repeating(bot, fake):
    bot.post(*callback(text_xml("zhangsan", "你好", "9201")))
    bot.pump()
    with bot.db.session() as s:
        enqueue(s, s.scalars(select(Conversation)).one(), [Reply("很长的通知。" * 600)])
    fake.busy_at["message/send"] = 4  # the third of the six pieces meets a busy WeCom
    bot.pump()
    with bot.db.session() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).one()
        item.next_attempt_at = item.created_at  # the backoff has passed
    bot.pump()
    pieces = [s["text"]["content"] for s in fake.calls_to("message/send")[1:]]
    assert len(pieces) == 7  # six pieces, one of them tried twice
    assert "".join(pieces[:2] + pieces[3:]) == "很长的通知。" * 600
    assert count(bot, OutboxItem, OutboxItem.status == "sent") == 2


@pytest.fixture
def quiet_urllib3() -> Iterator[None]:
    """As ``bot.logs.setup_logging`` does: urllib3 would log request URLs, which carry the token."""
    urllib3 = logging.getLogger("urllib3")
    level = urllib3.level
    urllib3.setLevel(logging.WARNING)
    yield
    urllib3.setLevel(level)


def test_logs_hold_no_message_text_secret_or_token(bot, fake, caplog, quiet_urllib3):
    caplog.set_level(logging.DEBUG)
    bot.post(*callback(text_xml("zhangsan", "我的身份证号是110101199003071234", "9301")))
    bot.post(*callback(text_xml("zhangsan", "我的身份证号是110101199003071234", "9301")))  # a repeat
    bot.post(*callback(event_xml("zhangsan", "click", "menu:ask")))
    bot.post(*callback(event_xml("zhangsan", "click", "menu:ask")))  # a repeat, logged by key
    bot.post(*callback(kf_event_xml("kf-sync-token-secret", "wkKF1")))
    bot.post(*callback(kf_event_xml("kf-sync-token-secret", "wkKF1")))
    forged, body = callback(text_xml("zhangsan", "伪造", "9302"), token="wrong")
    bot.post(forged, body)
    fake.expire_tokens()
    bot.pump()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "duplicate delivery dropped" in text and "bad signature" in text  # the log does speak
    for secret in ("110101199003071234", SECRET, KF_SECRET, TOKEN, AES_KEY, "token-1", "token-2",
                   "kf-sync-token-secret", "zhangsan"):
        assert secret not in text
