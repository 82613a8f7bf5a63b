"""Webhook in, engine, outbox, Bot API out: the whole path against the fake, on both databases."""
from __future__ import annotations

import httpx
from fake_bot_api import SECRET
from sqlalchemy import func, select

from handlers.i18n import t
from storage import inbox
from storage.models import Attachment, Conversation, Customer, InboxItem, Message, OutboxItem

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8 + b"\xff\xd9"


def count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


async def test_start_answered_end_to_end(tg):
    response = await tg.post(tg.api.text_update("/start"))
    assert response.status_code == 200
    assert count(tg.db, InboxItem, InboxItem.status == "pending") == 1  # recorded before the answer
    await tg.settle()

    [sent] = tg.api.sent
    assert sent["chat_id"] == "42" and sent["text"] == t("menu.welcome", "zh")
    rows = [[b["callback_data"] for b in row] for row in sent["reply_markup"]["inline_keyboard"]]
    assert rows[0] == ["menu:ask", "application:start"]  # short labels side by side
    with tg.db.session() as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.channel, customer.external_id, customer.display_name) == ("telegram", "42", "Li Lei")
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.chat_id == "42" and conversation.language == "zh"
        assert [m.direction for m in s.scalars(select(Message).order_by(Message.id))] == ["in", "out"]
        assert s.scalars(select(OutboxItem)).one().platform_message_id == str(sent["message_id"])
        assert s.scalars(select(InboxItem)).one().status == "done"


async def test_deep_link_payload_reaches_the_engine_as_text(tg):
    await tg.post(tg.api.text_update("/start REF-2026-0042", language_code="en"))
    await tg.settle()
    with tg.db.session() as s:
        assert s.scalars(select(Message).where(Message.direction == "in")).one().text == "/start REF-2026-0042"
        assert s.scalars(select(Conversation)).one().language == "en"  # the client's language, as a hint
    assert len(tg.api.texts()) == 1  # what the payload means is the engine's business


async def test_button_press_is_answered_and_routed(tg):
    update = tg.api.callback_update("menu:ask")
    await tg.post(update)
    await tg.settle()
    assert tg.api.answered_queries == [update["callback_query"]["id"]]
    assert tg.api.texts() == [t("menu.ask_prompt", "zh")]
    with tg.db.session() as s:
        assert s.scalars(select(Message).where(Message.direction == "in")).one().button == "menu:ask"


async def test_photo_is_downloaded_and_stored(tg):
    await tg.post(tg.api.photo_update(JPEG))
    await tg.settle()
    assert ("getFile", {"file_id": "F2"}) in tg.api.calls  # the largest size, not the thumbnail
    with tg.db.session() as s:
        attachment = s.scalars(select(Attachment)).one()
        assert attachment.mime == "image/jpeg" and attachment.size == len(JPEG)
        assert attachment.conversation_id == s.scalars(select(Conversation)).one().id
    path = tg.runtime.services.attachments.path_for(attachment.sha256)
    assert path.read_bytes() == JPEG
    assert tg.api.texts()[0] == t("attachment.received", "zh", name=attachment.original_name)


async def test_document_over_the_limit_is_refused_without_downloading(tg):
    limit = tg.runtime.services.attachments.max_bytes
    await tg.post(tg.api.document_update(b"%PDF-1.4 tiny", "scan.pdf", "application/pdf", file_size=limit + 1))
    await tg.settle()
    assert not [c for c in tg.api.calls if c[0] == "getFile"]
    assert count(tg.db, Attachment) == 0
    assert tg.api.texts()[0] == t("attachment.too_large", "zh", name="scan.pdf", limit=f"{limit // 2**20} MB")


async def test_wrong_or_missing_secret_is_refused_and_nothing_recorded(tg):
    update = tg.api.text_update("hello")
    assert (await tg.post(update, secret="wrong-secret")).status_code == 403
    assert (await tg.post(update, secret=None)).status_code == 403
    assert (await tg.post(update, secret="")).status_code == 403
    assert count(tg.db, InboxItem) == 0
    await tg.settle()
    assert tg.api.sent == [] and count(tg.db, Message) == 0


async def test_malformed_body_is_a_400(tg):
    response = await tg.client.post("/telegram/webhook", content=b"not json",
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400 and "error" in response.json()
    assert (await tg.post({"message": {}})).status_code == 400
    assert count(tg.db, InboxItem) == 0


async def test_repeated_update_is_processed_once(tg):
    update = tg.api.text_update("/help")
    assert (await tg.post(update)).status_code == 200
    await tg.settle()
    assert (await tg.post(update)).status_code == 200  # Telegram redelivers after a lost answer
    await tg.settle()
    assert count(tg.db, InboxItem) == 1
    assert count(tg.db, Message, Message.direction == "in") == 1
    assert tg.api.texts() == [t("menu.help", "zh")]


async def test_shared_contact_is_stored_as_the_customers_phone(tg):
    await tg.post(tg.api.contact_update("+8613800138000"))
    await tg.post(tg.api.contact_update("+8613900000000", owner=777))  # someone else's card: not a phone
    await tg.settle()
    with tg.db.session() as s:
        assert s.scalars(select(Customer)).one().phone == "+8613800138000"


async def test_edited_messages_and_group_chats_are_ignored(tg):
    edited = tg.api.update(edited_message=tg.api.message(text="changed my mind", edit_date=1767225700))
    group = tg.api.update(message=tg.api.message(-100123, user_id=42, chat_type="supergroup", text="hi all"))
    for update in (edited, group):
        assert (await tg.post(update)).status_code == 200
    await tg.settle()
    assert count(tg.db, InboxItem, InboxItem.status == "done") == 2
    assert count(tg.db, Message) == 0 and tg.api.sent == []


async def test_crash_before_recording_gets_no_200_and_the_redelivery_counts(tg, monkeypatch):
    update = tg.api.text_update("/start")
    real_accept = inbox.accept

    def database_down(*args, **kwargs):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(inbox, "accept", database_down)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tg.app, raise_app_exceptions=False),
                                 base_url="http://bot.test") as client:
        response = await client.post("/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 500  # Telegram keeps the update and delivers it again
    monkeypatch.setattr(inbox, "accept", real_accept)
    assert (await tg.post(update)).status_code == 200
    await tg.settle()
    assert tg.api.texts() == [t("menu.welcome", "zh")]
