"""Done means: a customer submits (a missing item found and supplied), a reviewer asks for a
correction, reviews and approves through the REST API, and the customer hears of each step
in their chat (outbox rows); on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import Application, ApplicationItem, ApplicationTransition, FileAccess
from tests.integration.applications.helpers import PDF, PNG, Chat, payloads, text
from tests.integration.applications.test_chat_flow import submit_account_opening


def test_customer_and_reviewer_through_the_whole_process(runtime, api, tokens):
    rev = tokens["reviewer"]
    chat = Chat(runtime)
    reference, _code = submit_account_opening(chat)
    base = f"/api/v1/applications/{reference}"

    listed = api.get("/api/v1/applications", params={"stage": "received"}, headers=rev).json()
    assert [a["reference"] for a in listed["items"]] == [reference]

    # 补正: the reviewer names one item; the customer is told in one message and walked through exactly it
    mark = chat.last_outbox_id()
    response = api.post(f"{base}/correction", headers=rev, json={
        "items": [{"material": "id_card_front", "note": "照片反光，看不清证件号码"}], "comment": "请重新拍摄"})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "correction_requested" and response.json()["due_date"] is None
    notices = chat.outbox_texts(after=mark)
    assert len(notices) == 1 and "需要补正" in notices[0] and "身份证人像面照片：照片反光" in notices[0]
    with runtime.services.db.session() as s:
        app_id = s.scalars(select(Application.id)).one()
    replies = chat.press(f"application:fix:{app_id}")
    assert "需要补正以下 1 项" in replies[0].text and "第 1/1 项：身份证人像面照片" in replies[1].text
    replies = chat.send(file=PNG, name="front-again.png")
    assert "front-again.png" in text(replies) and f"application:resubmit:{app_id}" in payloads(replies)
    assert "补正材料已提交" in chat.press(f"application:resubmit:{app_id}")[0].text

    detail = api.get(base, headers=rev).json()
    assert detail["stage"] == "resubmitted" and detail["due_date"] is not None
    fronts = [i for i in detail["items"] if i["material"] == "id_card_front"]
    assert len(fronts) == 1 and fronts[0]["file_name"] == "front-again.png"

    # review and approval; each step queues a notice for the customer's chat
    mark = chat.last_outbox_id()
    for stage in ("initial_review", "approval", "approved", "processing"):
        response = api.post(f"{base}/transitions", headers=rev, json={"to": stage})
        assert response.status_code == 200, response.text
    response = api.post(f"{base}/transitions", headers=rev, json={"to": "completed", "comment": "欢迎使用"})
    assert response.json()["stage"] == "completed" and response.json()["allowed_next"] == []
    notices = chat.outbox_texts(after=mark)
    assert len(notices) == 6
    for words, notice in zip(["进入初审", "进入审批", "审批通过", "正在办理", "已办结"], notices):
        assert words in notice and reference in notice
    assert "修改初始密码" in notices[4] and "工作人员备注：欢迎使用" in notices[4]  # follow-up instructions
    assert "请为本次办理服务打分" in notices[5]  # 满意度调查: asked once, right after 办结

    # the file download is recorded; the history names who did what
    file_item = next(i for i in response.json()["items"] if i["kind"] == "file")
    got = api.get(file_item["download"], headers=rev)
    assert got.status_code == 200 and got.content in (PNG, PDF)
    with runtime.services.db.session() as s:
        access = s.scalars(select(FileAccess)).one()
        assert access.actor_name == "reviewer-tool" and access.action == "download" and access.via == "api"
        stages = [t.to_stage for t in s.scalars(select(ApplicationTransition).order_by(ApplicationTransition.id))]
        assert stages == ["received", "correction_requested", "resubmitted", "initial_review", "approval",
                          "approved", "processing", "completed"]
        statuses = sorted(i.status for i in s.scalars(select(ApplicationItem).where(
            ApplicationItem.material_id == "id_card_front")))
        assert statuses == ["current", "superseded"]

    # and the customer sees it all in progress
    shown = chat.send(reference)[0].text
    assert "已办结" in shown and "初审中" in shown and "后续注意事项" in shown


def test_illegal_transition_is_409_and_state_is_unchanged(runtime, api, tokens):
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    base = f"/api/v1/applications/{reference}"
    response = api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "approved"})
    assert response.status_code == 409 and "cannot go from received to approved" in response.json()["error"]
    api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "initial_review"})
    skip = api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "secondary_review"})
    assert skip.status_code == 409 and "no secondary review" in skip.json()["error"]
    assert api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "resubmitted"}).status_code == 409
    api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "approval"})
    no_reason = api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "rejected"})
    assert no_reason.status_code == 422
    assert api.get(base, headers=tokens["reviewer"]).json()["stage"] == "approval"
    rejected = api.post(f"{base}/transitions", headers=tokens["reviewer"], json={
        "to": "rejected", "reason": "证件已过期", "remedy": "请更换新证件后重新申请"})
    assert rejected.status_code == 200
    assert "证件已过期" in chat.outbox_texts()[-1] and "请更换新证件后重新申请" in chat.outbox_texts()[-1]
    assert api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "processing"}).status_code == 409


def test_roles_masking_and_auth(runtime, api, tokens):
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    assert api.get("/api/v1/applications").status_code == 401
    assert api.get("/api/v1/applications", headers=tokens["content_manager"]).status_code == 403
    agent_view = api.get("/api/v1/applications", headers=tokens["agent"]).json()["items"][0]["applicant"]
    assert agent_view == {"id_number": "110***********002X", "mobile": "138****5678"}
    reviewer_view = api.get("/api/v1/applications", headers=tokens["reviewer"]).json()["items"][0]["applicant"]
    assert reviewer_view["id_number"] == "11010519491231002X"
    detail = api.get(f"/api/v1/applications/{reference}", headers=tokens["agent"]).json()
    assert "11010519491231002X" not in str(detail)
    file_item = next(i for i in detail["items"] if i["kind"] == "file")
    assert api.get(file_item["download"], headers=tokens["agent"]).status_code == 403  # agents read, never download
    assert api.post(f"/api/v1/applications/{reference}/transitions", headers=tokens["agent"],
                    json={"to": "initial_review"}).status_code == 403
    assert "/api/v1/applications/{reference}/transitions" in api.get("/openapi.json").json()["paths"]
    stats = api.get("/api/v1/applications/stats", headers=tokens["supervisor"]).json()
    assert stats["by_stage"]["received"] == 1 and stats["open"] == 1


def test_a_correction_walk_ends_when_staff_close_the_case(runtime, api, tokens):
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    api.post(f"/api/v1/applications/{reference}/correction", headers=tokens["reviewer"],
             json={"items": [{"material": "mobile"}, {"material": "id_card_back"}]})
    with runtime.services.db.session() as s:
        app_id = s.scalars(select(Application.id)).one()
    chat.press(f"application:fix:{app_id}")
    assert "第 2/2 项：手机号码" in text(chat.send(file=PNG))
    api.post(f"/api/v1/applications/{reference}/transitions", headers=tokens["reviewer"], json={"to": "withdrawn",
             "comment": "客户电话要求撤回"})
    assert "这一步已经结束了" in text(chat.send("13700001111"))
    with runtime.services.db.session() as s:
        assert s.scalars(select(ApplicationItem).where(ApplicationItem.status == "pending")).all() == []


def test_a_service_with_secondary_review_cannot_skip_it(runtime, api, tokens):
    chat = Chat(runtime, chat_id="biz", user_id="biz")
    replies = chat.send("我要企业开户")
    assert "企业账户开户" in replies[0].text and "第 1/8 项：企业名称" in replies[1].text
    for answer in ("上海某某科技有限公司", "91310000MA1K12345X", PDF, "11010519491231002X", PNG, PDF, "13812345678"):
        if isinstance(answer, bytes):
            chat.send(file=answer, name="doc.pdf" if answer == PDF else "p.png")
        else:
            chat.send(answer)
    summary = chat.press("application:skip")[-1]
    assert "请核对" in summary.text
    done = chat.press("application:confirm")[0].text
    assert "复审" in done
    reference = done.split("受理编号：")[1].split("\n")[0]
    base = f"/api/v1/applications/{reference}"
    api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "initial_review"})
    skipped = api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "approval"})
    assert skipped.status_code == 409 and "复审" in skipped.json()["error"]
    assert api.get(base, headers=tokens["reviewer"]).json()["allowed_next"] == [
        "correction_requested", "secondary_review", "withdrawn"]
    assert api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "secondary_review"}).status_code == 200
    assert "进入复审" in chat.outbox_texts()[-1]
    assert api.post(f"{base}/transitions", headers=tokens["reviewer"], json={"to": "approval"}).status_code == 200


def test_materials_through_the_web_chat_http_api(runtime, api):
    session = "websession-apply-1-5e8a1c3f9b7d20463ac9"

    def say(**body):
        response = api.post("/api/chat", json={"session_id": session, **body})
        assert response.status_code == 200, response.text
        return "\n".join(r["text"] for r in response.json()["replies"])

    assert "第 1/4 项" in say(text="我要办理销户")
    assert "第 2/4 项" in say(text="11010519491231002X")
    uploaded = api.post("/api/chat/upload", data={"session_id": session},
                        files={"file": ("front.png", PNG, "image/png")})
    assert uploaded.status_code == 200 and "第 3/4 项" in uploaded.json()["replies"][-1]["text"]
    wrong = api.post("/api/chat/upload", data={"session_id": session},
                     files={"file": ("card.pdf", PDF, "application/pdf")})
    assert "不接受这种文件" in wrong.json()["replies"][-1]["text"]  # the refund card must be a photo
    api.post("/api/chat/upload", data={"session_id": session}, files={"file": ("card.png", PNG, "image/png")})
    summary = say(button="application:skip")
    assert "请核对" in summary and "card.png" in summary
    assert "受理编号：XH-" in say(button="application:confirm")
