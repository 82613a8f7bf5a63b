"""The customer's side in the chat, over real storage on both databases."""
from __future__ import annotations

from sqlalchemy import select

from domain.applications import REFERENCE
from storage.models import Application, ApplicationItem, Conversation
from tests.integration.applications.helpers import GOOD_ID, PDF, PNG, Chat, payloads, text


def submit_account_opening(chat: Chat) -> tuple[str, str]:
    """Walk through 个人账户开户 skipping the emblem side, get told once, supply it, submit."""
    replies = chat.send("我要办理开户")
    assert "个人账户开户" in replies[0].text and "需要准备的材料" in replies[0].text  # checklist up front
    assert "第 1/6 项：申请人姓名" in replies[1].text
    chat.send("张三")
    assert "校验码不符" in text(chat.send("110105194912310021"))  # wrong checksum refused at once, saying so
    chat.send(GOOD_ID.lower())
    assert "第 4/6 项" in text(chat.send(file=PNG))
    assert "第 5/6 项" in text(chat.press("application:skip"))  # emblem side: "provide later"
    chat.send("13812345678")
    replies = chat.press("application:skip")  # the optional e-mail
    # 一次性告知: everything missing in one message, then straight to that item
    assert "以下 1 项材料还缺少" in replies[0].text and "身份证国徽面照片 — 未提供" in replies[0].text
    replies = chat.send(file=PDF, name="back.pdf")
    summary = replies[-1]
    assert "请核对" in summary.text and GOOD_ID in summary.text and "back.pdf" in summary.text
    assert "application:confirm" in payloads([summary])
    done = chat.press("application:confirm")[0].text
    reference = REFERENCE.search(done).group(0)
    code = done.split("校验码：")[1][:6]
    assert "预计" in done and "办结" in done
    return reference, code


def test_submission_with_missing_item_then_summary_and_reference(runtime):
    chat = Chat(runtime)
    reference, code = submit_account_opening(chat)
    assert reference.startswith("KH-") and code.isdigit()
    with runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        assert app.stage == "received" and app.due_date is not None and app.reference == reference
        assert app.check_code_hash and code not in app.check_code_hash
        items = {i.material_id: i for i in s.scalars(select(ApplicationItem))}
        assert set(items) == {"full_name", "id_number", "id_card_front", "id_card_back", "mobile"}
        assert items["id_number"].value == GOOD_ID and items["id_card_back"].kind == "file"
        assert s.scalars(select(Conversation)).one().state is None


def test_wrong_file_kind_and_text_for_a_photo_are_refused(runtime):
    chat = Chat(runtime)
    chat.send("我要办理开户")
    chat.send("张三")
    chat.send(GOOD_ID)
    assert "需要上传" in text(chat.send("我没有照片"))
    assert "不接受这种文件" in text(chat.send(file=b"plain text file", name="a.txt"))
    assert "第 3/6 项" in text(chat.send(file=b"plain text file", name="a.txt"))  # still on the same item
    assert "第 2/6 项" in text(chat.press("application:back"))  # back to redo the ID number


def test_draft_survives_leaving_and_can_be_cancelled(runtime):
    chat = Chat(runtime)
    chat.send("I want to apply for a new account")
    chat.send("Zhang San")
    chat.send("/menu")  # leaves the flow; the draft stays
    replies = chat.press("application:start")
    assert "unfinished application" in replies[0].text
    replies = chat.press("application:resume")
    assert "missing or wrong" in replies[0].text and "Applicant" not in replies[0].text  # name kept
    chat.send("/menu")
    again = text(chat.send("I want to apply for a new account"))  # the same service again: the same draft
    assert "missing or wrong" in again and "Applicant" not in again
    assert "application is cancelled" in text(chat.press("application:cancel"))
    with runtime.services.db.session() as s:
        assert s.scalars(select(Application)).all() == []


def test_a_question_is_not_an_application(runtime):
    chat = Chat(runtime)
    replies = chat.send("开户需要什么材料？")
    assert "需要准备的材料" not in text(replies)
    replies = chat.send("我要办业务")
    assert "请选择要办理的业务" in replies[0].text
    assert "application:svc:account_closing" in payloads(replies)
    assert "第 1/4 项" in text(chat.send("销户"))  # named in the next message


def test_withdraw_after_submitting(runtime):
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    with runtime.services.db.session() as s:
        app_id = s.scalars(select(Application.id)).one()
    assert "确定要撤回" in chat.press(f"application:withdraw:{app_id}")[0].text
    assert "已撤回" in chat.press(f"application:withdraw_yes:{app_id}")[0].text
    with runtime.services.db.session() as s:
        assert s.scalars(select(Application)).one().stage == "withdrawn"
    assert "已不能撤回" in chat.press(f"application:withdraw:{app_id}")[0].text


def test_recognising_the_wish_to_apply():
    from handlers.application import apply_intent

    assert apply_intent("我要办理开户") == "explicit" and apply_intent("申请销户") == "explicit"
    assert apply_intent("我要开户") == "wish" and apply_intent("I'd like to open an account") == "wish"
    assert apply_intent("I want to apply for a certificate") == "explicit"
    for question in ("开户需要什么材料？", "怎么办理销户", "How do I apply?", "can I apply online"):
        assert apply_intent(question) is None


def test_a_wish_without_a_service_is_left_to_others(runtime):
    chat = Chat(runtime)
    assert "请选择要办理的业务" not in text(chat.send("我想要退款"))
    assert "第 1/4 项" in text(chat.send("我要开证明"))


def test_abandoned_drafts_are_deleted_after_30_days(runtime):
    from datetime import timedelta

    from domain import applications as apps
    from storage.models import Job, utcnow

    chat = Chat(runtime)
    chat.send("我要办理开户")
    chat.send("张三")
    with runtime.services.db.session() as s:
        job = s.scalars(select(Job).where(Job.kind == apps.DRAFT_EXPIRY_JOB)).one()
        assert job.run_at > utcnow() + timedelta(days=29)
        job.run_at = utcnow() - timedelta(seconds=1)
    assert runtime.jobs.run_due() == 1  # the customer wrote recently: kept, looked at again later
    with runtime.services.db.session() as s:
        assert s.scalars(select(Application)).one().stage == "draft"
        later = s.scalars(select(Job).where(Job.kind == apps.DRAFT_EXPIRY_JOB, Job.status == "pending")).one()
        for item in s.scalars(select(ApplicationItem)):
            item.created_at = utcnow() - timedelta(days=31)
        s.get(Application, s.scalars(select(Application.id)).one()).created_at = utcnow() - timedelta(days=31)
        later.run_at = utcnow() - timedelta(seconds=1)
    assert runtime.jobs.run_due() == 1
    with runtime.services.db.session() as s:
        assert s.scalars(select(Application)).all() == [] and s.scalars(select(ApplicationItem)).all() == []
    assert "这一步已经结束了" in text(chat.send(GOOD_ID))
