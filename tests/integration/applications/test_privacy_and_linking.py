"""Nobody sees another person's application, even with its number; a check code proves it is
theirs on a new channel and links the identities."""
from __future__ import annotations

from sqlalchemy import select

from domain import applications as apps
from storage.models import Customer
from tests.integration.applications.helpers import Chat, payloads
from tests.integration.applications.test_chat_flow import submit_account_opening


def test_another_customer_cannot_see_it_even_with_the_number(runtime):
    owner = Chat(runtime, chat_id="owner-chat", user_id="owner")
    reference, _ = submit_account_opening(owner)
    stranger = Chat(runtime, chat_id="stranger-chat", user_id="stranger")
    stranger.send("你好")
    for attempt in (stranger.send(reference), stranger.press(f"progress:show:{reference}"),
                    stranger.send(f"查一下 {reference.lower()} 的进度")):
        shown = attempt[0].text
        assert "没有找到" in shown and "张三" not in shown and "已受理" not in shown
    # the same answer for a number that does not exist: no way to probe which numbers are real
    fake = reference[:-4] + ("ZZZZ" if not reference.endswith("ZZZZ") else "YYYY")
    assert stranger.send(fake)[0].text == stranger.send(reference)[0].text.replace(reference, fake)
    assert "还没有提交过申请" in stranger.press("progress:list")[0].text
    app_id_guess = "1"
    assert "没有找到" in stranger.press(f"application:withdraw_yes:{app_id_guess}")[0].text
    assert "没有找到" in stranger.press(f"application:fix:{app_id_guess}")[0].text
    assert "已受理" in owner.press(f"progress:show:{reference}")[0].text


def test_wrong_codes_are_limited(runtime):
    owner = Chat(runtime, chat_id="o", user_id="o")
    reference, code = submit_account_opening(owner)
    stranger = Chat(runtime, chat_id="s", user_id="s")
    stranger.send("你好")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = []
    for _ in range(5):
        stranger.send(reference)
        answers.append(stranger.send(wrong)[0].text)
    assert "还可尝试 4 次" in answers[0] and "次数过多" in answers[-1]
    stranger.send(reference)
    assert "次数过多" in stranger.send(code)[0].text  # even the right code, while locked


def test_check_code_links_identities_across_channels(runtime):
    telegram = Chat(runtime, channel="telegram", chat_id="tg-1", user_id="tg-user")
    reference, code = submit_account_opening(telegram)
    web = Chat(runtime, channel="web", chat_id="web-session-1", user_id="web-session-1")
    assert "check code" in web.send(f"my application {reference}")[0].text  # an English speaker here
    replies = web.send(code)
    assert "Verified" in replies[0].text and reference in replies[1].text and "Stage: Received" in replies[1].text
    with runtime.services.db.session() as s:
        people = {c.channel: c for c in s.scalars(select(Customer))}
        assert people["web"].person == people["telegram"].person
    listed = web.press("progress:list")
    assert reference in listed[0].text and f"progress:show:{reference}" in payloads(listed)
    assert "Stage: Received" in web.send(reference)[0].text


def test_one_time_code_sent_to_the_original_chat_links_identities(runtime):
    telegram = Chat(runtime, channel="telegram", chat_id="tg-9", user_id="tg-9")
    reference, _ = submit_account_opening(telegram)
    web = Chat(runtime, channel="web", chat_id="web-9-session", user_id="web-9-session")
    web.send("你好")
    assert f"progress:code:{reference}" in payloads(web.send(reference))
    mark = telegram.last_outbox_id()
    assert "一次性验证码" in web.press(f"progress:code:{reference}")[0].text
    sent = telegram.outbox_texts(after=mark)
    assert len(sent) == 1 and reference in sent[0]
    code = sent[0].split("验证码：")[1][:6]
    web.press(f"progress:code:{reference}")  # asking again within 10 minutes sends nothing more
    assert len(telegram.outbox_texts(after=mark)) == 1
    stranger = Chat(runtime, channel="web", chat_id="other-session", user_id="other-session")
    stranger.send("你好")
    stranger.send(reference)
    assert "校验码不正确" in stranger.send(code)[0].text  # the code works only for who asked for it
    replies = web.send(code)
    assert "身份验证成功" in replies[0].text and "已受理" in replies[1].text
    fake = "KH-20000101-AAAA"
    web.send(fake)
    assert "一次性验证码" in web.press(f"progress:code:{fake}")[0].text  # same answer for an unknown number


def test_notices_stay_in_the_chat_the_case_came_from_after_a_look_up_elsewhere(runtime):
    """Apply in A, prove the case once in B, staff move it: the notice goes to A, none to B."""
    a = Chat(runtime, channel="web", chat_id="browser-a", user_id="browser-a")
    reference, code = submit_account_opening(a)
    b = Chat(runtime, channel="web", chat_id="browser-b", user_id="browser-b")
    b.send("你好")
    b.send(reference)
    assert "身份验证成功" in b.send(code)[0].text  # B is now the linked chat written from last
    mark_a, mark_b = a.last_outbox_id(), b.last_outbox_id()
    services = runtime.services
    with services.db.session() as s:
        app = apps.by_reference(s, reference)
        apps.transition(s, services, app, "initial_review", apps.Actor("staff", "rita"))
    assert any(reference in text and "初审" in text for text in a.outbox_texts(after=mark_a))
    assert b.outbox_texts(after=mark_b) == []
