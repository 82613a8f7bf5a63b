"""Outgoing webhooks end to end: real changes (an application through its stages, a handoff, an
unanswered question, a rating) queue signed deliveries in their own transaction; the sender
posts them to a receiver on 127.0.0.1 that checks signatures, fails on purpose and counts.

Time is simulated through ``next_attempt_at`` (the backoff's clock), never slept.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Runtime
from bot.webhooks import WebhookSender, claim, sign
from domain import applications as apps
from domain import webhooks
from storage.models import Application, WebhookDelivery, utcnow
from tests.integration.applications.helpers import Chat
from tests.integration.applications.test_chat_flow import submit_account_opening
from tests.integration.webhooks.receiver import SECRET, example, receiver

STAFF = apps.Actor("staff", "rita")


def subscribe(runtime: Runtime, url: str, events: list[str] | None = None) -> int:
    with runtime.services.db.session() as s:
        return webhooks.add_subscription(s, url, SECRET, events).id


def make_events(runtime: Runtime) -> None:
    """Four subjects: an application moved twice after submission, a handoff, a question, a rating."""
    submit_account_opening(Chat(runtime))
    with runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        apps.transition(s, runtime.services, app, "initial_review", STAFF)
        apps.transition(s, runtime.services, app, "approval", STAFF)
    Chat(runtime, "c2", "u2").press("handoff:request")
    Chat(runtime, "c3", "u3").send("完全无关的问题 xyzzy")
    Chat(runtime, "c4", "u4").press("feedback:general:5")


def pending(runtime: Runtime) -> list[WebhookDelivery]:
    with runtime.services.db.session() as s:
        return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending")))


def advance(runtime: Runtime, seconds: float) -> None:
    """Let ``seconds`` pass for the queue: every waiting delivery comes that much closer to due."""
    with runtime.services.db.session() as s:
        for row in s.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending")):
            row.next_attempt_at -= timedelta(seconds=seconds)


def wait_until_next_due(runtime: Runtime) -> float:
    """Advance the queue's clock to its next due delivery; the seconds that took."""
    heads: dict[tuple[int, str], WebhookDelivery] = {}
    for row in sorted(pending(runtime), key=lambda r: r.id):
        heads.setdefault((row.subscription_id, row.subject), row)  # the later ones wait for their case's first
    if not heads:
        return 0.0
    wait = max(0.0, (min(r.next_attempt_at for r in heads.values()) - utcnow()).total_seconds())
    advance(runtime, wait + 0.001)
    return wait


def sender(runtime: Runtime, max_attempts: int = 15) -> WebhookSender:
    return WebhookSender(runtime.services.db, max_attempts, timeout_seconds=5, poll_seconds=1)


def subjects_in_order(runtime: Runtime) -> dict[str, list[str]]:
    """Event ids per subject, in the order they were raised."""
    out: dict[str, list[str]] = {}
    with runtime.services.db.session() as s:
        for d in s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)):
            out.setdefault(d.subject, []).append(d.event_id)
    return out


def test_signature_is_hmac_of_time_and_raw_body_and_the_documented_receiver_checks_it():
    body = b'{"id":"e1","type":"rating.given"}'
    header = sign(SECRET, body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert example.verify(SECRET, header, body, now=1_700_000_100)
    assert not example.verify(SECRET, header, body + b" ", now=1_700_000_100)  # body changed
    assert not example.verify("another-secret-value", header, body, now=1_700_000_100)
    assert not example.verify(SECRET, header, body, now=1_700_000_000 + 301)  # older than five minutes


def test_each_change_queues_one_delivery_per_interested_subscription_with_its_rest_data(runtime):
    everything = subscribe(runtime, "http://127.0.0.1:9/all")
    only_stage = subscribe(runtime, "http://127.0.0.1:9/stages", ["application.stage_changed"])
    make_events(runtime)
    with runtime.services.db.session() as s:
        rows = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    mine = [d for d in rows if d.subscription_id == everything]
    assert [d.event_type for d in mine] == ["application.submitted", "application.stage_changed",
                                            "application.stage_changed", "handoff.opened", "question.unanswered",
                                            "rating.given"]
    assert [d.event_type for d in rows if d.subscription_id == only_stage] == ["application.stage_changed"] * 2
    body = mine[1].body
    assert set(body) == {"id", "type", "time", "data"}
    assert body["data"]["stage"] == "initial_review" and body["data"]["reference"].startswith("KH-")
    assert body["data"]["applicant"]["id_number"] != "11010519491231002X"  # masked, like the API for agents
    assert mine[4].body["data"]["text"] == "完全无关的问题 xyzzy" and mine[5].body["data"]["score"] == 5
    same_event = {d.event_id for d in rows if d.event_type == "application.stage_changed"}
    assert len(same_event) == 2  # one id per event, shared by its subscriptions


def test_a_change_rolled_back_leaves_no_delivery(runtime):
    subscribe(runtime, "http://127.0.0.1:9/all")
    submit_account_opening(Chat(runtime))
    with pytest.raises(RuntimeError), runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        apps.transition(s, runtime.services, app, "initial_review", STAFF)
        raise RuntimeError("the request failed after the change")
    with runtime.services.db.session() as s:
        assert [d.event_type for d in s.scalars(select(WebhookDelivery))] == ["application.submitted"]


def test_a_minute_of_outage_loses_nothing_and_each_case_stays_in_order(runtime):
    with receiver() as (url, log):
        subscribe(runtime, url)
        make_events(runtime)
        expected = subjects_in_order(runtime)
        worker = sender(runtime)
        log.down, outage = True, 0.0
        while outage < 60:
            asyncio.run(worker.drain_once())
            outage += wait_until_next_due(runtime)
        assert log.refused >= 5 * len(expected)  # tried at 0, 2, 6, 14, 30 s at least: all refused
        assert len(pending(runtime)) == sum(len(ids) for ids in expected.values())  # nothing lost
        log.down = False
        while pending(runtime):
            asyncio.run(worker.drain_once())
            wait_until_next_due(runtime)
    assert log.bad_signatures == 0
    assert sorted(log.answered_2xx) == sorted(i for ids in expected.values() for i in ids)
    assert set(log.answered_2xx.values()) == {1}  # none twice after a 2xx
    arrived = [e["id"] for e in log.events]
    for ids in expected.values():
        assert [i for i in arrived if i in ids] == ids


def test_a_failing_event_holds_back_its_own_case_only(runtime):
    with receiver() as (url, log):
        subscribe(runtime, url)
        make_events(runtime)
        expected = subjects_in_order(runtime)
        application = next(ids for subject, ids in expected.items() if subject.startswith("application:"))
        log.fail_ids[application[0]] = 3
        worker = sender(runtime)
        asyncio.run(worker.drain_once())
        others = {i for subject, ids in expected.items() if not subject.startswith("application:") for i in ids}
        assert set(log.answered_2xx) == others  # the application's later events wait for its first
        while pending(runtime):
            wait_until_next_due(runtime)
            asyncio.run(worker.drain_once())
    assert [e["id"] for e in log.events if e["id"] in application] == application
    assert set(log.answered_2xx.values()) == {1}


def test_a_crash_after_claiming_sends_again_after_the_lease(runtime):
    with receiver() as (url, log):
        subscribe(runtime, url, ["rating.given"])
        Chat(runtime, "c4", "u4").press("feedback:general:5")
        assert len(claim(runtime.services.db, 20)) == 1  # leased, then the worker died before posting
        worker = sender(runtime)
        assert asyncio.run(worker.drain_once()) == 0  # still leased to the dead worker
        advance(runtime, 121)
        asyncio.run(worker.drain_once())
    assert len(log.events) == 1 and not pending(runtime)


def test_after_the_limit_failed_shown_and_replayed(runtime):
    with receiver() as (url, log):
        subscribe(runtime, url, ["rating.given"])
        Chat(runtime, "c4", "u4").press("feedback:general:5")
        worker = sender(runtime, max_attempts=3)
        log.down = True
        for _ in range(3):
            asyncio.run(worker.drain_once())
            wait_until_next_due(runtime)
        with runtime.services.db.session() as s:
            failed = webhooks.deliveries(s, "failed")
            assert len(failed) == 1 and "gave up after 3 tries: HTTP 503" in failed[0].last_error
            webhooks.replay(s, failed[0].id)
        log.down = False
        asyncio.run(worker.drain_once())
    assert [e["type"] for e in log.events] == ["rating.given"]
    with runtime.services.db.session() as s:
        assert [d.status for d in s.scalars(select(WebhookDelivery))] == ["sent"]
