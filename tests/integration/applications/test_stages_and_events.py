"""The stage table refuses what it must and names what is allowed; every change publishes one
event on the real bus; the listener turns an event into the notice the customer reads."""
from __future__ import annotations

from datetime import date
from typing import Iterator

import pytest

from bot.app import Runtime
from domain import applications as apps
from domain.events import EventBus
from handlers.notices import applications as notices
from storage.models import Application
from tests.integration.applications.helpers import Chat, payloads
from tests.integration.applications.test_chat_flow import submit_account_opening

STAFF = apps.Actor("staff", "rita")


def case(stage: str, secondary: bool = False) -> Application:
    return Application(id=7, reference="KH-20261127-L7CB", stage=stage, service_id="account_opening",
                       service_name={"zh": "个人账户开户", "en": "Open an account"}, language="zh",
                       needs_secondary_review=secondary, correction_items=[], due_date=date(2026, 12, 4))


def test_illegal_move_is_refused_naming_the_allowed_ones():
    with pytest.raises(apps.IllegalTransition) as refused:
        apps.check_move(case("received"), "approved", STAFF)
    assert "cannot go from received to approved" in str(refused.value)
    assert "allowed next: correction_requested, initial_review, withdrawn" in str(refused.value)
    with pytest.raises(apps.IllegalTransition, match="none"):
        apps.check_move(case("completed"), "processing", STAFF)


def test_who_may_move_and_the_review_path_of_the_service():
    with pytest.raises(apps.IllegalTransition, match="only the customer"):
        apps.check_move(case("correction_requested"), "resubmitted", STAFF)
    apps.check_move(case("correction_requested"), "resubmitted", apps.Actor("customer", "customer:1"))
    with pytest.raises(apps.InvalidRequest, match="unknown stage"):
        apps.check_move(case("received"), "lost", STAFF)
    with pytest.raises(apps.IllegalTransition, match="no secondary review"):
        apps.check_move(case("initial_review"), "secondary_review", STAFF)
    with pytest.raises(apps.IllegalTransition, match="复审"):
        apps.check_move(case("initial_review", secondary=True), "approval", STAFF)
    assert apps.allowed_next(case("initial_review")) == ["correction_requested", "approval", "withdrawn"]
    assert apps.allowed_next(case("correction_requested")) == ["withdrawn"]  # resubmitting is the customer's
    assert apps.customer_may_withdraw(case("approval")) and not apps.customer_may_withdraw(case("approved"))


@pytest.fixture
def one_runtime(sqlite_settings) -> Iterator[Runtime]:
    rt = Runtime.build(sqlite_settings, channels={})
    yield rt
    rt.services.db.dispose()


def spy(bus: EventBus) -> list[apps.ApplicationEvent]:
    heard: list[apps.ApplicationEvent] = []
    bus.subscribe(apps.StageEvent, lambda session, event: heard.append(event))
    bus.subscribe(apps.ApplicationExtended, lambda session, event: heard.append(event))
    return heard


def test_each_change_publishes_one_event(one_runtime):
    heard = spy(one_runtime.services.events)
    reference, _ = submit_account_opening(Chat(one_runtime))
    services = one_runtime.services
    with services.db.session() as s:
        app = apps.by_reference(s, reference)
        apps.transition(s, services, app, "initial_review", STAFF, comment="ok")
        apps.extend(s, services, app, 2, "需要核实", STAFF)
        with pytest.raises(apps.IllegalTransition):
            apps.transition(s, services, app, "completed", STAFF)
        for stage in ("approval", "approved", "processing", "completed"):
            apps.transition(s, services, app, stage, STAFF)
    kinds = [type(e) for e in heard]
    assert kinds == [apps.ApplicationSubmitted, apps.ApplicationStageChanged, apps.ApplicationExtended,
                     apps.ApplicationStageChanged, apps.ApplicationStageChanged, apps.ApplicationStageChanged,
                     apps.ApplicationCompleted]
    assert [e.name for e in heard][:3] == ["application.submitted", "application.stage_changed",
                                           "application.extended"]
    first = heard[1]
    assert (first.reference, first.from_stage, first.to_stage, first.actor_kind, first.comment) == (
        reference, "received", "initial_review", "staff", "ok")
    assert heard[2].days == 2 and heard[2].new_due_date > heard[2].old_due_date
    assert heard[-1].follow_up  # the service's follow-up instructions


def test_correction_event_names_the_items_and_the_customers_own_change_is_not_sent_to_chat(one_runtime):
    heard = spy(one_runtime.services.events)
    chat = Chat(one_runtime)
    reference, _ = submit_account_opening(chat)
    services = one_runtime.services
    with services.db.session() as s:
        app = apps.by_reference(s, reference)
        apps.transition(s, services, app, "correction_requested", STAFF,
                        items=[{"material": "id_card_front", "note": "看不清"}])
    mark = chat.last_outbox_id()
    with services.db.session() as s:
        app = apps.by_reference(s, reference)
        apps.transition(s, services, app, "withdrawn", apps.Actor("customer", f"customer:{app.customer_id}"))
    assert isinstance(heard[1], apps.ApplicationCorrectionRequested) and heard[1].materials == ("id_card_front",)
    assert heard[2].to_stage == "withdrawn" and heard[2].actor_kind == "customer"
    assert chat.outbox_texts(after=mark) == []  # the chat reply says it; no second notice


def test_listener_words_the_notice_with_the_button_that_helps_next(one_runtime):
    catalogue = one_runtime.services.catalogue
    rejected = case("rejected")
    rejected.decision_reason, rejected.remedy = "证件已过期", "换领新证后重新申请"
    event = apps.ApplicationStageChanged(application_id=7, reference=rejected.reference,
                                         from_stage="approval", to_stage="rejected", actor_kind="staff",
                                         comment="请谅解")
    reply = notices.notice(catalogue, rejected, event, "zh")
    assert "证件已过期" in reply.text and "换领新证后重新申请" in reply.text and "请谅解" in reply.text
    assert payloads([reply]) == ["application:start"]

    fix = case("correction_requested")
    fix.correction_items = [{"material": "id_card_front", "note": "看不清"}]
    event = apps.ApplicationCorrectionRequested(application_id=7, reference=fix.reference,
                                                from_stage="received", to_stage="correction_requested",
                                                actor_kind="staff", materials=("id_card_front",))
    reply = notices.notice(catalogue, fix, event, "zh")
    assert "1. 身份证人像面照片：看不清" in reply.text and payloads([reply]) == ["application:fix:7"]

    extended = notices.notice(catalogue, case("received"), apps.ApplicationExtended(
        application_id=7, reference="KH-20261127-L7CB", days=3, reason="核实",
        old_due_date=date(2026, 12, 1), new_due_date=date(2026, 12, 4)), "en")
    assert "2026-12-04" in extended.text and payloads([extended]) == ["progress:show:KH-20261127-L7CB"]


def test_the_rating_request_follows_the_completion_notice():
    bus = EventBus()
    notices.subscribe(bus, services=None)  # type: ignore[arg-type]
    assert [listener.func for listener in bus.listeners(apps.ApplicationCompleted)] == [
        notices.tell_customer, notices.ask_rating]
