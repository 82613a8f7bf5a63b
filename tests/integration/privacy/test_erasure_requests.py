"""A customer asks in chat to have their data deleted; an admin approves (the erasure runs) or
rejects with a reason in the console; the customer is told in the chat they asked from."""
from __future__ import annotations

from sqlalchemy import select

from handlers.privacy import CANCEL, CONFIRM, asks_erasure
from storage.models import CustomerDataRequest, ErasureRequest, KnowledgeQuestion
from tests.console_helpers import console_app, console_login, csrf_of
from tests.integration.applications.helpers import Chat, payloads, text

ACCOUNTS = [("ada", "admin password", "admin", "Ada"), ("sam", "super password", "supervisor", "Sam")]
PROMPT = "您要求删除您的个人信息。"


def ask_for_erasure(chat: Chat) -> int:
    """Ask in chat, confirm; the request's number."""
    replies = chat.send("请删除我的个人信息！")
    assert PROMPT in replies[0].text and payloads(replies) == [CONFIRM, CANCEL]
    done = text(chat.press(CONFIRM))
    assert "已记录您的删除请求（编号" in done and "工作人员审核后" in done
    return int(done.split("编号 ")[1].split("）")[0])


def test_the_phrases_of_both_languages_are_recognised():
    assert asks_erasure("删除我的个人信息") and asks_erasure("请帮我 删除我的数据。") and asks_erasure("Delete my data, please")
    assert asks_erasure("please ERASE MY PERSONAL DATA") and asks_erasure("forget me!")
    assert not asks_erasure("怎么删除附件") and not asks_erasure("delete my appointment") and not asks_erasure("")


def test_request_in_chat_approved_by_an_admin_and_the_customer_told(settings):
    with console_app(settings, ACCOUNTS) as (runtime, client):
        chat = Chat(runtime, "web-7", "web-7")
        chat.send("我叫李四，电话 13900001111，完全无关的问题 zork")
        number = ask_for_erasure(chat)
        assert f"您的删除请求（编号 {number}）正在等待" in text(chat.send("delete my data"))
        assert f"编号 {number}" in text(chat.press(CONFIRM))  # a second confirm is the same request
        console_login(client, "sam", "super password")
        assert client.get("/console/erasure", headers={"accept": "text/html"}).status_code == 403
        home = client.get("/console").text
        assert client.post(f"/console/erasure/{number}/approve", data={"csrf_token": csrf_of(home)}).status_code == 403
        assert client.post(f"/console/erasure/{number}/reject",
                           data={"csrf_token": csrf_of(home), "reason": "no"}).status_code == 403
        client.post("/console/logout", data={"csrf_token": csrf_of(home)})
        console_login(client, "ada", "admin password")
        page = client.get("/console/erasure")
        assert page.status_code == 200 and "web:web-7" in page.text and "批准后保留" in page.text
        mark = chat.last_outbox_id()
        done = client.post(f"/console/erasure/{number}/approve", data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 200 and f"请求 {number} 已执行删除；保留：无" in done.text
        assert "没有待审核的删除请求" in done.text
        again = client.post(f"/console/erasure/{number}/approve", data={"csrf_token": csrf_of(page.text)})
        assert again.status_code == 409 and "already erased" in again.text
        told = chat.outbox_texts(after=mark)
        assert told == ["您的个人信息已删除：姓名、电话、邮箱、聊天记录、上传的文件，以及申请、投诉、评价和提问中的个人内容均已删除或匿名化。"]
        with runtime.services.db.session() as s:
            request = s.get(ErasureRequest, number)
            assert (request.status, request.decided_by) == ("erased", "console:ada")
            assert request.identity.startswith("web:erased-")
            record = s.get(CustomerDataRequest, request.record_id)
            assert record.actor == "console:ada" and f"request {number}" in record.reason
            assert all("zork" not in q.text for q in s.scalars(select(KnowledgeQuestion)))


def test_request_rejected_with_a_reason_the_customer_reads_and_nothing_erased(settings):
    with console_app(settings, ACCOUNTS) as (runtime, client):
        chat = Chat(runtime, "web-8", "web-8")
        chat.send("完全无关的问题 zork")
        assert PROMPT in text(chat.send("delete my personal data"))  # the prompt, then "no"
        assert text(chat.press(CANCEL)).startswith("好的，您的信息不做删除。")
        number = ask_for_erasure(chat)
        console_login(client, "ada", "admin password")
        page = client.get("/console/erasure")
        blank = client.post(f"/console/erasure/{number}/reject", data={"csrf_token": csrf_of(page.text),
                                                                        "reason": "  "})
        assert blank.status_code == 409 and "say why" in blank.text
        mark = chat.last_outbox_id()
        rejected = client.post(f"/console/erasure/{number}/reject",
                               data={"csrf_token": csrf_of(page.text), "reason": "您有一项投诉仍在调查中"})
        assert rejected.status_code == 200 and f"请求 {number} 已驳回" in rejected.text
        assert chat.outbox_texts(after=mark) == [
            f"您的删除请求（编号 {number}）未获批准，原因：您有一项投诉仍在调查中。如有疑问，可以回复“人工”联系工作人员。"]
        with runtime.services.db.session() as s:
            request = s.get(ErasureRequest, number)
            assert (request.status, request.decision_reason, request.record_id) == (
                "rejected", "您有一项投诉仍在调查中", None)
            assert any("zork" in q.text for q in s.scalars(select(KnowledgeQuestion)))
            assert not s.scalars(select(CustomerDataRequest)).all()
        # a new request can be made after a rejection
        assert "已记录您的删除请求" in text(chat.send("删除我的个人信息") and chat.press(CONFIRM))
