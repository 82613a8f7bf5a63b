"""The staff group end to end through the fake Bot API: a forum topic per handed-off customer,
staff answering from it, the console beside it; on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import threading

import pytest
from fake_bot_api import STAFF_CHAT_ID
from sqlalchemy import select

from domain import handoff
from domain.staff import create_link_code, link_platform
from handlers.i18n import t
from storage.models import (
    Attachment,
    Conversation,
    HandoffNote,
    HandoffSession,
    InboxItem,
    Message,
    OutboxItem,
    StaffLink,
    StaffUser,
)

AGENT_TG = 777
QUESTION = "我的营业执照申请为什么还没批下来"


def make_staff(tg, username: str, telegram_id: int | None = None, role: str = "agent") -> int:
    with tg.db.session() as s:
        user = StaffUser(username=username, display_name=username.title(), password_hash="-", role=role,
                         on_duty=True)
        s.add(user)
        s.flush()
        if telegram_id is not None:
            link_platform(s, user, "telegram", str(telegram_id))
        return user.id


async def hand_off(tg, chat_id: int = 42) -> int:
    """The customer asks a question the bot cannot answer, then for a person; the topic's thread id."""
    await tg.post(tg.api.text_update(QUESTION, chat_id=chat_id))
    await tg.post(tg.api.text_update("转人工", chat_id=chat_id))
    await tg.settle()
    return max(tg.api.topics)


async def staff_says(tg, thread: int | None, user_id: int = AGENT_TG, **content) -> None:
    await tg.post(tg.api.staff_update(user_id, thread, **content))
    await tg.settle()


def current(tg) -> HandoffSession:
    with tg.db.session() as s:
        return s.scalars(select(HandoffSession).order_by(HandoffSession.id.desc())).first()


async def test_topic_header_relay_claim_reply_note_and_close(tg_staff):
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    thread = await hand_off(tg)
    topic = tg.api.topics[thread]
    assert topic["name"].startswith("Li Lei · telegram · #") and not topic["closed"]
    [header] = tg.api.topic_texts(thread)
    assert QUESTION in header and "客户：转人工" in header and "/close" in header

    await tg.post(tg.api.text_update("在吗？"))
    await tg.settle()
    assert tg.api.topic_texts(thread)[-1] == "👤 在吗？"
    before = len(tg.api.texts())

    await staff_says(tg, thread, text="您好，我来帮您查一下。")
    assert current(tg).status == "active"
    assert tg.api.texts()[before:] == [t("handoff.agent_joined", "zh", name="Wang"), "您好，我来帮您查一下。"]
    assert tg.api.topic_texts(thread)[-1] == t("staff_room.taken", "zh", name="Wang")

    await staff_says(tg, thread, text="/note 客户情绪稳定，材料齐全")
    assert len(tg.api.texts()) == before + 2  # a note is never sent
    with tg.db.session() as s:
        assert [n.text for n in s.scalars(select(HandoffNote))] == ["客户情绪稳定，材料齐全"]
        staff_lines = [(m.text, m.staff_id is not None) for m in s.scalars(
            select(Message).where(Message.sender == "staff"))]
    assert staff_lines == [("您好，我来帮您查一下。", True)]  # the transcript the console shows

    await staff_says(tg, thread, text="/close")
    assert current(tg).close_kind == "handback"
    assert tg.api.texts()[before + 2] == t("handoff.handback_bye", "zh")
    assert "1" in str(tg.api.sent[-1]["reply_markup"])  # the rating buttons
    assert tg.api.topics[thread]["closed"]
    assert tg.api.topic_texts(thread)[-1] == t("staff_room.closed.handback", "zh")


async def test_the_topic_is_reopened_when_the_customer_comes_back(tg_staff):
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    thread = await hand_off(tg)
    await staff_says(tg, thread, text="好的")
    await staff_says(tg, thread, text="/close")
    assert tg.api.topics[thread]["closed"]
    headers = len(tg.api.topic_texts(thread))

    await tg.post(tg.api.text_update("人工"))
    await tg.settle()
    assert list(tg.api.topics) == [thread] and not tg.api.topics[thread]["closed"]
    assert t("staff_room.header_turns", "zh") in tg.api.topic_texts(thread)[headers]
    assert [m for m, _ in tg.api.calls].count("reopenForumTopic") == 1


async def test_someone_not_linked_is_ignored_and_logged(tg_staff, caplog):
    tg = tg_staff
    thread = await hand_off(tg)
    sent = len(tg.api.sent)
    with caplog.at_level(logging.INFO, logger="handlers.staff_room"):
        await staff_says(tg, thread, user_id=999, text="我来回答")
    assert len(tg.api.sent) == sent and current(tg).status == "waiting"
    [line] = [r.getMessage() for r in caplog.records if "999" in r.getMessage()]
    assert "not linked" in line


async def test_photos_both_ways(tg_staff):
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    thread = await hand_off(tg)
    photo = b"\xff\xd8\xff\xe0" + b"customer photo" * 10
    update = tg.api.photo_update(photo)
    await tg.post(update)
    await tg.settle()
    [relayed] = [m for m in tg.api.sent if m.get("message_thread_id") == thread and "document" in m]
    assert relayed["document"] == (f"photo_{update['message']['message_id']}.jpg", photo)

    answer = b"\xff\xd8\xff\xe0" + b"agent photo" * 10
    await staff_says(tg, thread, photo=tg.api.photo_sizes(answer), caption="这是样例")
    to_customer = [m for m in tg.api.sent if m["chat_id"] == "42"]
    assert to_customer[-2]["text"] == "这是样例" and to_customer[-1]["document"][1] == answer
    with tg.db.session() as s:
        stored = s.scalar(select(Attachment).order_by(Attachment.id.desc()))
        line = s.scalar(select(Message).where(Message.sender == "staff"))
        assert stored.size == len(answer) and line.text == "这是样例"
        assert [f["attachment_id"] for f in line.payload["files"]] == [stored.id]  # the console lists it


async def test_console_replies_show_in_the_topic_and_the_topic_only_once(tg_staff):
    tg = tg_staff
    agent_id = make_staff(tg, "li", None)
    thread = await hand_off(tg)
    services, handoff_id = tg.runtime.services, current(tg).id
    with tg.db.session() as s:
        agent = s.get(StaffUser, agent_id)
        handoff.claim(s, services, handoff_id, agent)
        handoff.reply(s, services, handoff_id, agent, "控制台的回复")
    await tg.settle()
    assert tg.api.topic_texts(thread)[-2:] == [t("staff_room.taken", "zh", name="Li"),
                                               t("staff_room.agent_says", "zh", name="Li", text="控制台的回复")]
    assert tg.api.texts()[-1] == "控制台的回复"


async def test_link_code_transfer_and_canned(tg_staff):
    tg = tg_staff
    wang = make_staff(tg, "wang")
    make_staff(tg, "zhao", 888)
    with tg.db.session() as s:
        code = create_link_code(s, s.get(StaffUser, wang))
        s.add(handoff.add_canned(s, s.get(StaffUser, wang), "材料", "请上传身份证正反面。", None))
    await tg.post(tg.api.text_update("/link WRONG123", chat_id=AGENT_TG))
    await tg.post(tg.api.text_update(f"/link {code}", chat_id=AGENT_TG))
    await tg.settle()
    assert tg.api.texts(AGENT_TG) == [t("staff_room.link_bad", "zh"), t("staff_room.linked", "zh", name="Wang")]
    with tg.db.session() as s:
        assert s.scalar(select(StaffLink.staff_id).where(StaffLink.platform_user_id == str(AGENT_TG))) == wang

    thread = await hand_off(tg)
    await staff_says(tg, thread, text="/canned 材料")
    assert tg.api.texts()[-1] == "请上传身份证正反面。"
    await staff_says(tg, thread, text="/canned 不存在")
    assert tg.api.topic_texts(thread)[-1] == t("console.handoff.error.no_canned", "zh")
    await staff_says(tg, thread, text="/transfer Zhao")
    assert current(tg).agent_id != wang
    assert tg.api.texts()[-1] == t("handoff.transferred", "zh", name="Zhao")
    await staff_says(tg, thread, text="我还想补充")  # no longer Wang's: told so, nothing sent
    assert tg.api.topic_texts(thread)[-1] == t("console.handoff.error.not_yours", "zh")
    assert tg.api.texts()[-1] == t("handoff.transferred", "zh", name="Zhao")


async def test_a_bot_api_outage_loses_no_topic_and_no_post(tg_staff):
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    tg.api.fail("createForumTopic", 502, "Bad Gateway", times=2)
    await tg.post(tg.api.text_update(QUESTION))
    await tg.post(tg.api.text_update("转人工"))
    await tg.post(tg.api.text_update("有人吗"))
    await tg.settle()
    assert tg.api.topics == {}
    for _ in range(3):
        tg.make_due()
        await tg.settle()
    [thread] = tg.api.topics
    texts = tg.api.topic_texts(thread)
    assert len(texts) == 2 and QUESTION in texts[0] and texts[1] == "👤 有人吗"
    with tg.db.session() as s:
        assert {i.status for i in s.scalars(select(OutboxItem))} == {"sent"}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_console_and_telegram_claim_at_once_one_wins(tg_staff):
    """Both sides take the waiting conversation at the same moment: one winner, the other told."""
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    console_id = make_staff(tg, "li")
    thread = await hand_off(tg)
    update = tg.api.staff_update(AGENT_TG, thread, text="我来处理")
    await tg.post(update)
    incomings = await tg.channel.parse(update)
    with tg.db.session() as s:
        inbox_id = s.scalar(select(InboxItem.id).where(InboxItem.delivery_key == str(update["update_id"])))
        handoff_id = current(tg).id
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def console() -> None:
        barrier.wait()
        try:
            with tg.db.session() as s:
                handoff.claim(s, tg.runtime.services, handoff_id, s.get(StaffUser, console_id))
            outcome["console"] = "won"
        except handoff.HandoffError as exc:
            outcome["console"] = exc.code

    def telegram() -> None:
        barrier.wait()
        tg.runtime.engine.handle_recorded(inbox_id, incomings)

    threads = [threading.Thread(target=console), threading.Thread(target=telegram)]
    for thread_ in threads:
        thread_.start()
    for thread_ in threads:
        thread_.join(30)
    await tg.settle()
    with tg.db.session() as s:
        won_by = s.get(HandoffSession, handoff_id).agent_id
        joined = [m.text for m in s.scalars(select(Message).where(Message.sender == "bot"))
                  if "已接入" in m.text]
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == "42")).one()
        staff_lines = [m.text for m in s.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.sender == "staff"))]
    assert len(joined) == 1
    if outcome["console"] == "won":
        assert won_by == console_id and staff_lines == []
        assert tg.api.topic_texts(thread)[-1] == t("console.handoff.error.taken", "zh")
    else:
        assert outcome["console"] == "taken" and staff_lines == ["我来处理"]
    assert tg.api.sent[-1]["chat_id"] in ("42", str(STAFF_CHAT_ID))


async def test_a_web_chat_customer_gets_a_topic_too(tg_staff):
    """Handed-off conversations from any channel come to the group; the answer goes back to the web chat."""
    from handlers.messages import Incoming

    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    session_id = "web-session-5e8a1c3f9b7d20463ac9"
    for text in (QUESTION, "转人工"):
        tg.runtime.engine.handle(Incoming("web", session_id, session_id, text))
    await tg.settle()
    [thread] = tg.api.topics
    assert " · web · #" in tg.api.topics[thread]["name"] and QUESTION in tg.api.topic_texts(thread)[0]
    await staff_says(tg, thread, text="网页客户您好")
    with tg.db.session() as s:
        rows = [i.payload["text"] for i in s.scalars(select(OutboxItem).where(OutboxItem.channel == "web"))]
    assert rows[-2:] == [t("handoff.agent_joined", "zh", name="Wang"), "网页客户您好"]


async def test_an_agent_photo_reaches_the_web_chat_as_a_file_only_its_session_can_fetch(tg_staff):
    from handlers.messages import Incoming

    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)
    session_id = "web-session-0f1e2d3c4b5a69788796"
    for text in (QUESTION, "转人工"):
        tg.runtime.engine.handle(Incoming("web", session_id, session_id, text))
    await tg.settle()
    [thread] = tg.api.topics
    photo = b"\xff\xd8\xff\xe0" + b"agent photo" * 10
    await staff_says(tg, thread, photo=tg.api.photo_sizes(photo))
    shown = (await tg.client.get("/api/chat/messages", params={"session_id": session_id, "after": 0})).json()
    [file] = [f for m in shown["messages"] for f in m.get("files", [])]
    fetched = await tg.client.get(file["url"])
    assert fetched.status_code == 200 and fetched.content == photo
    other = file["url"].replace(session_id, "web-session-ffffeeeeddddccccbbbb")
    assert (await tg.client.get(other)).status_code == 404


async def test_roles_apply_as_in_the_console(tg_staff):
    tg = tg_staff
    make_staff(tg, "reviewer", 555, role="reviewer")
    thread = await hand_off(tg)
    sent_to_customer = len(tg.api.texts())
    await staff_says(tg, thread, user_id=555, text="我来回答")
    assert tg.api.topic_texts(thread)[-1] == t("console.handoff.error.not_agent", "zh")
    assert len(tg.api.texts()) == sent_to_customer and current(tg).status == "waiting"


async def test_a_topic_deleted_in_the_group_is_made_again(tg_staff):
    tg = tg_staff
    make_staff(tg, "wang", AGENT_TG)  # on duty: the customer waits live and their messages are relayed
    thread = await hand_off(tg)
    del tg.api.topics[thread]  # somebody deleted the topic in Telegram
    await tg.post(tg.api.text_update("还在吗"))
    await tg.settle()
    tg.make_due()
    await tg.settle()
    [again] = tg.api.topics
    assert again != thread and tg.api.topic_texts(again) == ["👤 还在吗"]


async def test_the_header_lists_the_customers_open_complaints(tg_staff):
    from domain import complaints

    tg = tg_staff
    await tg.post(tg.api.text_update("/start"))
    await tg.settle()
    with tg.db.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.chat_id == "42")).one()
        ticket = complaints.create(s, tg.runtime.services, conversation, category=complaints.CATEGORIES[0],
                                   description="窗口人员态度差").ticket
    thread = await hand_off(tg)
    assert ticket in tg.api.topic_texts(thread)[0]
