"""Filing and checking complaints through the engine, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from domain import complaints
from storage.models import Complaint, ComplaintEvent, Job

from .conftest import payloads, texts


def file_complaint(send, category: str = "staff_conduct", description: str = "窗口工作人员态度很差，不回答问题",
                   email: str | None = None) -> str:
    """The shortest complaint: category, description, no files, no application; the reply comes in chat,
    or by email when an address is given."""
    send(button="complaint:start")
    send(button=f"complaint:cat:{category}")
    send(description)
    send(button="complaint:files_done")
    send(button="complaint:app:none")
    if email:
        send(button="complaint:contact:email")
        send(email)
    else:
        send(button="complaint:contact:chat")
    replies = send(button="complaint:submit")
    ticket = complaints.normalize_ticket(texts(replies))
    assert ticket is not None, texts(replies)
    return ticket


def test_complaint_filed_step_by_step_with_files_reference_and_phone(runtime, say):
    send = say("alice")
    first = send("我要投诉")
    assert "complaint:cat:delay" in payloads(first) and "complaint:cancel" in payloads(first)
    assert "请描述" in texts(send(button="complaint:cat:delay"))
    assert "多写几句" in texts(send("太慢"))
    assert "完成" in texts(send("我的申请已经超过办理时限两周了还没有结果"))
    assert "已补充" in texts(send("窗口说系统故障"))
    assert "1 个文件" in texts(send(png=True))
    reply = send(button="complaint:files_done")
    assert "complaint:app:none" in payloads(reply) and "业务编号" in texts(reply)
    assert "complaint:contact:phone" in payloads(send("AP-2026-0042"))
    assert "联系电话" in texts(send(button="complaint:contact:phone"))
    assert "格式不对" in texts(send("不知道"))
    summary = send("13800138000")
    assert "办理超时" in texts(summary) and "AP-2026-0042" in texts(summary) and "138****00" in texts(summary)
    assert "13800138000" not in texts(summary)
    done = send(button="complaint:submit")
    ticket = complaints.normalize_ticket(texts(done))
    assert ticket and "24 小时" in texts(done)

    with runtime.services.db.session() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert (complaint.ticket, complaint.status, complaint.category) == (ticket, "received", "delay")
        assert complaint.application_ref == "AP-2026-0042" and complaint.application_id is None
        assert complaint.description == "我的申请已经超过办理时限两周了还没有结果\n窗口说系统故障"
        assert (complaint.contact_preference, complaint.contact_value) == ("phone", "13800138000")
        assert len(complaint.attachment_ids) == 1
        assert [e.action for e in complaint.events] == ["received"]
        job = s.scalars(select(Job).where(Job.kind == complaints.JOB_DEADLINE)).one()
        assert job.payload == {"complaint_id": complaint.id, "status": "received"}
        assert job.run_at == complaint.due_at
    # The conversation is free again: the next message is not taken as part of a complaint.
    assert "我的投诉" not in texts(send("hello"))


def test_complaint_can_be_cancelled_and_stale_buttons_are_refused(runtime, say):
    send = say("bob")
    send("I want to file a complaint")
    assert "Cancelled" in texts(send("cancel"))
    assert "no longer valid" in texts(send(button="complaint:submit"))
    with runtime.services.db.session() as s:
        assert s.scalars(select(Complaint)).all() == []


def test_english_flow_and_status_by_ticket_and_list(runtime, say):
    send = say("carol")
    send("hello there")  # language: English
    send("I want to complain")
    send(button="complaint:cat:system")
    send("The website crashed three times while uploading my documents.")
    send(button="complaint:files_done")
    send(button="complaint:app:none")
    send(button="complaint:contact:email")
    assert "does not look like an email" in texts(send("not-an-email"))
    assert "Please check" in texts(send("carol@example.com"))
    ticket = complaints.normalize_ticket(texts(send(button="complaint:submit")))
    assert ticket
    status = send(ticket.lower().replace("-", ""))  # typed loosely
    assert ticket in texts(status) and "Received, waiting" in texts(status)
    listing = send("my complaints")
    assert ticket in texts(listing) and f"complaint:status:{ticket}" in payloads(listing)


def test_a_customer_cannot_see_or_answer_another_customers_complaint(runtime, say):
    alice, mallory = say("alice"), say("mallory")
    ticket = file_complaint(alice)
    assert "没有找到" in texts(mallory(f"查询投诉 {ticket}"))
    assert "没有找到" in texts(mallory(button=f"complaint:status:{ticket}"))
    assert "没有找到" in texts(mallory(button=f"complaint:satisfied:{ticket}:yes"))
    assert "还没有投诉记录" in texts(mallory("我的投诉"))
    assert ticket not in texts(mallory("我的投诉"))
    own = alice(ticket)
    assert ticket in texts(own) and "已受理" in texts(own)
    assert "已受理" in texts(alice(f"/start {ticket}"))  # a deep link to the ticket
    assert "没有找到" in texts(mallory(f"/start {ticket}"))
    with runtime.services.db.session() as s:
        assert [e.action for e in s.scalars(select(ComplaintEvent))] == ["received"]


def test_questions_about_complaints_are_left_to_the_faq(runtime, say):
    send = say("dave")
    for question in ("投诉电话是多少", "投诉流程是什么？", "how do I complain?", "我要投诉，热线是多少"):
        assert "complaint:cat:delay" not in payloads(send(question)), question
    for wish in ("投诉", "我要投诉窗口的工作人员", "I would like to make a complaint", "complain!"):
        assert "complaint:cat:delay" in payloads(send(wish)), wish
        send("取消")


def test_own_applications_are_offered(runtime, say):
    """The customer's own submitted applications are offered; another person's are not accepted."""
    from storage.models import Application, Customer, utcnow

    send = say("erin")
    send("hi")
    say("olga")("hi")
    with runtime.services.db.session() as s:
        ids = {c.external_id: c.id for c in s.scalars(select(Customer))}
        for app_id, owner, reference in ((7, ids["user-erin"], "KH-20261127-AAAA"),
                                         (8, ids["user-olga"], "KH-20261127-BBBB")):
            s.add(Application(id=app_id, reference=reference, service_id="account_opening",
                              service_name={"zh": "个人账户开户", "en": "Account opening"}, customer_id=owner,
                              stage="received", submitted_at=utcnow()))
    send(button="complaint:start")
    send(button="complaint:cat:wrong_result")
    send("审批结果和我提交的材料不符")
    offered = send(button="complaint:files_done")
    assert "complaint:app:7" in payloads(offered) and "complaint:app:8" not in payloads(offered)
    assert "complaint:contact:chat" not in payloads(send(button="complaint:app:8"))  # not theirs: asked again
    send(button="complaint:app:7")
    assert "KH-20261127-AAAA" in texts(send(button="complaint:contact:chat"))
    send(button="complaint:submit")
    with runtime.services.db.session() as s:
        assert s.scalars(select(Complaint.application_id)).one() == 7


def test_a_complaint_can_ask_for_a_person_at_once(runtime, say):
    from domain.staff import add_staff
    from storage.models import Conversation, HandoffSession

    with runtime.services.db.session() as s:
        add_staff(s, "duty", "long password", "agent").on_duty = True
    runtime.services.settings = runtime.services.settings.model_copy(update={"handoff_hours": "always"})
    send = say("carol")
    ticket = file_complaint(send)
    replies = send(button=f"complaint:person:{ticket}")
    assert "排" in texts(replies) or "工作人员" in texts(replies)
    with runtime.services.db.session() as s:
        handoff = s.scalars(select(HandoffSession)).one()
        assert handoff.reason == "complaint" and ticket in handoff.question
        assert s.scalars(select(Conversation)).one().mode == "human"
