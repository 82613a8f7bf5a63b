"""微信客服 (kf) end to end: kf callback -> kf/sync_msg from the stored cursor -> inbox -> engine
-> kf/send_msg within WeCom's window, and the handoff call. SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select, update

from bot.channels import kv
from bot.channels.wecom import NoServicerOnDuty
from handlers.messages import Reply
from storage.models import Attachment, Conversation, InboxItem, Message, OutboxItem, utcnow
from storage.outbox import enqueue
from tests.integration.wecom.wecom_sim import callback, kf_event_xml

KF = "wkKF1"


def kf_event(bot, token: str) -> None:  # noqa: ANN001
    assert bot.post(*callback(kf_event_xml(token, KF))).status_code == 200


def incoming_texts(bot) -> list[str]:  # noqa: ANN001
    with bot.db.session() as s:
        return [m.text for m in s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]


def retry_now(bot) -> None:  # noqa: ANN001
    """Let the backoff of failed inbox rows pass."""
    with bot.db.session() as s:
        s.execute(update(InboxItem).where(InboxItem.status == "pending").values(next_attempt_at=utcnow()))


def the_reply(bot) -> tuple[str, str | None]:  # noqa: ANN001
    """Status and last error of the one reply in the outbox."""
    with bot.db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        return item.status, item.last_error


def test_sync_pages_through_the_cursor_and_answers_each_message(bot, fake):
    fake.kf_page_size = 2
    for i in range(5):
        fake.add_kf_message(f"wmUser{i}", f"msg-{i}", f"问题{i}")
    kf_event(bot, "tok-1")
    bot.pump()
    assert [c["cursor"] for c in fake.calls_to("kf/sync_msg")] == ["", "2", "4"]
    assert all(c["token"] == "tok-1" and c["open_kfid"] == KF for c in fake.calls_to("kf/sync_msg"))
    assert incoming_texts(bot) == [f"问题{i}" for i in range(5)]
    sent = fake.calls_to("kf/send_msg")
    assert sorted(s["touser"] for s in sent) == [f"wmUser{i}" for i in range(5)]
    assert all(s["open_kfid"] == KF for s in sent)
    menu = sent[0]["msgmenu"]  # buttons go out as a kf menu message, each tap coming back as its payload
    assert sent[0]["msgtype"] == "msgmenu" and menu["head_content"]
    assert menu["list"] and all(item["click"]["id"] and item["click"]["content"] for item in menu["list"])
    assert kv.get(bot.db, f"wecom_kf:cursor:{KF}") == {"cursor": "5"}


def test_sync_resumes_after_a_failure_and_a_restart_without_loss_or_repeat(make_bot, fake):
    fake.kf_page_size = 2
    for i in range(3):
        fake.add_kf_message(f"wmUser{i}", f"msg-{i}", f"问题{i}")
    fake.kf_fail_cursors = {"2"}  # WeCom fails on the second page
    first = make_bot()
    kf_event(first, "tok-1")
    first.pump()
    assert incoming_texts(first) == ["问题0", "问题1"]
    first.close()  # the process dies; the failed sync stays pending

    for i in range(3, 5):
        fake.add_kf_message(f"wmUser{i}", f"msg-{i}", f"问题{i}")
    second = make_bot()
    kf_event(second, "tok-2")
    retry_now(second)
    second.pump()
    assert [c["cursor"] for c in fake.calls_to("kf/sync_msg")] == ["", "2", "2", "4", "5"]
    assert incoming_texts(second) == [f"问题{i}" for i in range(5)]
    assert len(fake.calls_to("kf/send_msg")) == 5
    with second.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxItem).where(InboxItem.status != "done")) == 0


def queue_replies(bot, chat_id: str, n: int) -> None:  # noqa: ANN001
    with bot.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == chat_id)).one()
        enqueue(s, conversation, [Reply(f"通知{i}") for i in range(n)])


def test_five_messages_per_customer_message_then_deferred_until_the_next(bot, fake):
    chat = f"{KF}:wmAlice"
    fake.add_kf_message("wmAlice", "a-1", "你好")
    kf_event(bot, "tok-1")
    bot.pump()
    queue_replies(bot, chat, 6)  # e.g. notifications: the menu + 6 > 5
    bot.pump()
    assert len(fake.calls_to("kf/send_msg")) == 5
    with bot.db.session() as s:
        waiting = list(s.scalars(select(OutboxItem).where(OutboxItem.status == "pending").order_by(OutboxItem.id)))
    assert [Reply.from_dict(w.payload).text for w in waiting] == ["通知4", "通知5"]
    assert "5 messages" in waiting[0].last_error  # the next one waits behind it, in order

    fake.add_kf_message("wmAlice", "a-2", "还有问题吗")
    kf_event(bot, "tok-2")
    bot.pump()
    contents = [c.get("text", {}).get("content") for c in fake.calls_to("kf/send_msg")]
    assert len(contents) == 8 and contents[5:7] == ["通知4", "通知5"]
    with bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status != "sent")) == 0


def test_after_48_hours_replies_wait_for_the_customer(bot, fake):
    fake.add_kf_message("wmBob", "b-1", "你好", send_time=int(time.time()) - 49 * 3600)
    kf_event(bot, "tok-1")
    bot.pump()
    assert fake.calls_to("kf/send_msg") == []
    status, error = the_reply(bot)
    assert status == "pending" and "48 hours" in error
    fake.add_kf_message("wmBob", "b-2", "在吗")
    kf_event(bot, "tok-2")
    bot.pump()
    assert [c["touser"] for c in fake.calls_to("kf/send_msg")] == ["wmBob", "wmBob"]


def test_wecom_saying_the_limit_is_reached_defers_too(bot, fake):
    fake.add_kf_message("wmCarol", "c-1", "你好")
    fake.kf_quota["wmCarol"] = 0  # a servicer already used the five messages from the WeCom app
    kf_event(bot, "tok-1")
    bot.pump()
    status, error = the_reply(bot)
    assert status == "pending" and "95001" in error


def test_handoff_to_person_moves_the_session(bot, fake):
    chat = f"{KF}:wmDan"
    kf = bot.channel("wecom_kf")
    assert asyncio.run(kf.handoff_to_person(chat)) == "code-2"
    fake.on_duty = {"agent.li"}
    assert asyncio.run(kf.handoff_to_person(chat, "agent.li")) == "code-3"
    assert fake.calls_to("kf/service_state/trans")[-1] == {
        "open_kfid": KF, "external_userid": "wmDan", "service_state": 3, "servicer_userid": "agent.li"}
    with pytest.raises(NoServicerOnDuty):
        asyncio.run(kf.handoff_to_person(chat, "agent.off"))
    # Now a person serves the session: the bot's kf/send_msg is refused for good, not retried.
    fake.add_kf_message("wmDan", "d-1", "你好")
    kf_event(bot, "tok-1")
    bot.pump()
    status, error = the_reply(bot)
    assert status == "failed" and "95018" in error


def test_kf_files_menu_clicks_and_numbers(bot, fake):
    pdf = b"%PDF-1.4\n" + b"0" * 100
    fake.media["FILE1"] = (pdf, "申请表.pdf", "application/pdf")
    fake.add_kf_message("wmEve", "e-1", "你好")
    kf_event(bot, "tok-1")
    bot.pump()  # the menu went out as a menu message, without numbers
    fake.add_kf_message("wmEve", "e-2", "3")
    fake.add_kf_message("wmEve", "e-3", "", msgtype="file", file={"media_id": "FILE1"})
    fake.add_kf_message("wmEve", "e-4", "", text={"content": "咨询问题", "menu_id": "menu:ask"})
    kf_event(bot, "tok-2")
    bot.pump()
    with bot.db.session() as s:
        assert s.scalars(select(Attachment)).one().original_name == "申请表.pdf"
        buttons = [m.button for m in s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]
    assert buttons == [None, None, None, "menu:ask"]
    assert incoming_texts(bot)[1] == "3"


def test_enter_session_welcome_uses_the_welcome_code(bot, fake):
    fake.kf_messages.append({
        "msgid": "ev-1", "open_kfid": KF, "send_time": int(time.time()), "origin": 4, "msgtype": "event",
        "event": {"event_type": "enter_session", "open_kfid": KF, "external_userid": "wmFay", "welcome_code": "WC1"}})
    kf_event(bot, "tok-1")
    bot.pump()
    (welcome,) = fake.calls_to("kf/send_msg_on_event")
    assert welcome["code"] == "WC1" and welcome["msgtype"] == "msgmenu"
    assert welcome["msgmenu"]["list"][0]["click"]["id"] == "menu:ask"
    assert fake.calls_to("kf/send_msg") == []


def test_a_late_retry_with_an_expired_event_token_syncs_without_it(bot, fake):
    fake.add_kf_message("wmGus", "g-1", "你好")
    fake.kf_expired_tokens = {"tok-old"}
    kf_event(bot, "tok-old")
    bot.pump()
    assert [c["token"] for c in fake.calls_to("kf/sync_msg")] == ["tok-old", ""]
    assert incoming_texts(bot) == ["你好"]


def test_kf_callbacks_are_ignored_when_only_the_app_runs(make_bot, fake):
    bot = make_bot(wecom_mode="app")
    fake.add_kf_message("wmHal", "h-1", "你好")
    kf_event(bot, "tok-1")
    bot.pump()
    assert fake.calls_to("kf/sync_msg") == []
    with bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxItem)) == 0


def test_a_handoff_moves_the_kf_session_to_wecoms_queue_after_the_notice(bot, fake):
    from bot.channels.wecom.transfer import TRANSFER_JOB
    from storage.models import Job

    fake.add_kf_message("wmFay", "f-1", "转人工")
    kf_event(bot, "tok-1")
    bot.pump()  # the queue notice goes out through kf/send_msg first
    assert fake.calls_to("kf/send_msg") and not fake.calls_to("kf/service_state/trans")
    with bot.db.session() as s:
        job = s.scalars(select(Job).where(Job.kind == TRANSFER_JOB)).one()
        job.run_at = utcnow()  # the grace period for the notice has passed
    assert bot.runtime.jobs.run_due() == 1
    assert fake.calls_to("kf/service_state/trans")[-1] == {
        "open_kfid": KF, "external_userid": "wmFay", "service_state": 2}
