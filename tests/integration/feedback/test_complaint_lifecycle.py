"""The whole complaint lifecycle with the customer's notifications, a reopen at follow-up,
deadlines through the job runner, and refused transitions; on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from domain import complaints
from storage.models import Complaint, Job, utcnow

from .conftest import last_outbox_id, outbox_texts, payloads, texts
from .test_complaint_chat import file_complaint


def act(runtime, ticket: str, action: str, by: int | None = None, comment: str | None = None, **fields):
    with runtime.services.db.session() as s:
        complaint = complaints.get_by_ticket(s, ticket)
        complaints.transition(s, runtime.services, complaint, action, complaints.Actor("staff", staff_id=by),
                              comment, **fields)


def load(runtime, ticket: str) -> Complaint:
    with runtime.services.db.session() as s:
        complaint = complaints.get_by_ticket(s, ticket)
        complaint.events  # noqa: B018 - load the history before the session ends
        return complaint


def pass_deadline(runtime, ticket: str) -> None:
    """Move the current stage's deadline (and its job) into the past: the clock has run out."""
    past = utcnow() - timedelta(minutes=1)
    with runtime.services.db.session() as s:
        complaint = complaints.get_by_ticket(s, ticket)
        complaint.due_at = past
        s.execute(update(Job).where(Job.dedupe_key == complaints.deadline_key(complaint, complaint.status))
                  .values(run_at=past))


def test_whole_lifecycle_with_notifications_and_a_reopen(runtime, say, staff):
    alice = say("alice")
    ticket = file_complaint(alice)
    agent = staff["agent1"]
    mark = last_outbox_id(runtime)

    act(runtime, ticket, "assign", agent, staff_id=agent)
    act(runtime, ticket, "start", agent, "called the branch")
    act(runtime, ticket, "resolve", agent, resolution="已对窗口人员批评教育，并向您致歉。",
        finding="窗口人员未按规范答复", responsible_staff_id=staff["agent1"], measure="批评教育并重新培训")
    notes = outbox_texts(runtime, "alice", mark)
    assert len(notes) == 3
    assert "已分派专人" in notes[0] and "调查处理阶段" in notes[1]
    assert "已对窗口人员批评教育" in notes[2] and ticket in notes[2]

    # The follow-up visit comes by itself when the resolved stage's time is up.
    mark = last_outbox_id(runtime)
    pass_deadline(runtime, ticket)
    assert runtime.jobs.run_due() == 1
    assert load(runtime, ticket).status == "follow_up"
    (question,) = outbox_texts(runtime, "alice", mark)
    assert "是否满意" in question

    reply = alice(button=f"complaint:satisfied:{ticket}:no")
    assert "重新进入调查" in texts(reply)
    alice("处理结果只是道歉，我的业务还是没有办好")
    complaint = load(runtime, ticket)
    assert (complaint.status, complaint.reopen_count, complaint.satisfied) == ("investigating", 1, False)
    assert complaint.events[-1].action == "reopen" and "没有办好" in complaint.events[-1].comment
    assert complaint.events[-1].actor == "customer"

    act(runtime, ticket, "resolve", agent, resolution="已为您加急办结业务。")
    act(runtime, ticket, "follow_up", agent)
    assert "complaint:satisfied:" + ticket + ":yes" in payloads(alice(ticket))
    assert "已办结" in texts(alice(button=f"complaint:satisfied:{ticket}:yes"))
    assert "无需再次确认" in texts(alice(button=f"complaint:satisfied:{ticket}:yes"))

    complaint = load(runtime, ticket)
    assert complaint.status == "closed" and complaint.satisfied is True and complaint.closed_at is not None
    assert complaint.due_at is None
    # Each resolution states its own finding; the first one stays in the history.
    assert (complaint.finding, complaint.responsible_staff_id) == (None, None)
    assert complaint.events[3].details == {"resolution": "已对窗口人员批评教育，并向您致歉。",
                                           "finding": "窗口人员未按规范答复",
                                           "responsible_staff_id": staff["agent1"], "measure": "批评教育并重新培训"}
    assert [(e.action, e.to_status) for e in complaint.events] == [
        ("received", "received"), ("assign", "assigned"), ("start", "investigating"), ("resolve", "resolved"),
        ("follow_up", "follow_up"), ("reopen", "investigating"), ("resolve", "resolved"),
        ("follow_up", "follow_up"), ("close", "closed"),
    ]
    assert complaint.events[1].staff_id == agent and complaint.events[2].comment == "called the branch"
    assert complaint.events[4].actor == "system"
    with runtime.services.db.session() as s:
        states = dict(s.execute(select(Job.dedupe_key, Job.status).where(Job.kind == complaints.JOB_DEADLINE)).all())
    stage = lambda status: complaints.deadline_key(complaint, status)  # noqa: E731
    assert states == {stage("received"): "cancelled", stage("assigned"): "cancelled",
                      stage("investigating"): "cancelled", stage("resolved"): "cancelled",
                      stage("follow_up"): "cancelled"}
    assert runtime.jobs.run_due() == 0


def test_illegal_transitions_are_refused_with_a_clear_error(runtime, say, staff):
    ticket = file_complaint(say("alice"))
    with pytest.raises(complaints.IllegalTransition, match="is received: 'resolve' is allowed only when"):
        act(runtime, ticket, "resolve", resolution="x")
    with pytest.raises(complaints.IllegalTransition):
        act(runtime, ticket, "close")
    act(runtime, ticket, "assign", staff_id=staff["agent1"])
    act(runtime, ticket, "start")
    with pytest.raises(complaints.InvalidRequest, match="needs the resolution"):
        act(runtime, ticket, "resolve", resolution="  ")
    with pytest.raises(complaints.InvalidRequest, match="not an active staff member"):
        act(runtime, ticket, "assign", staff_id=99999)
    complaint = load(runtime, ticket)
    assert complaint.status == "investigating" and complaint.assigned_to == staff["agent1"]
    assert [e.action for e in complaint.events] == ["received", "assign", "start"]


def test_overdue_complaint_is_flagged_and_escalated_to_a_supervisor_once(runtime, say, staff):
    ticket = file_complaint(say("alice"))
    assert runtime.jobs.run_due() == 0  # nothing due yet: 24 hours to respond
    pass_deadline(runtime, ticket)
    assert runtime.jobs.run_due() == 1
    complaint = load(runtime, ticket)
    assert complaint.overdue and complaint.status == "received"
    assert complaint.escalated_to == staff["boss"] and complaint.escalated_at is not None
    assert complaint.events[-1].action == "escalate" and "boss" in complaint.events[-1].comment
    assert runtime.jobs.run_due() == 0

    # Assigning starts a new stage: a new deadline, the flag cleared, a new job.
    act(runtime, ticket, "assign", staff_id=staff["agent1"])
    complaint = load(runtime, ticket)
    assert not complaint.overdue and complaint.due_at > utcnow() + timedelta(hours=23)
    with runtime.services.db.session() as s:
        assert complaints.stats(s, utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1))["escalated"] == 1


def test_a_deadline_job_for_a_stage_already_left_does_nothing(runtime, say, staff):
    ticket = file_complaint(say("alice"))
    with runtime.services.db.session() as s:
        complaint = complaints.get_by_ticket(s, ticket)
        job = s.scalars(select(Job).where(Job.kind == complaints.JOB_DEADLINE)).one()
        complaint.status = "assigned"  # moved on behind the job's back
        job.run_at = utcnow() - timedelta(minutes=1)
    assert runtime.jobs.run_due() == 1
    complaint = load(runtime, ticket)
    assert not complaint.overdue and [e.action for e in complaint.events] == ["received"]


def test_complaint_figures(runtime, say, staff):
    first = file_complaint(say("alice"))
    file_complaint(say("bob"))
    act(runtime, first, "assign", staff_id=staff["agent1"])
    act(runtime, first, "start")
    act(runtime, first, "resolve", resolution="ok", responsible_staff_id=staff["agent1"])
    with runtime.services.db.session() as s:
        figures = complaints.stats(s, utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1))
        empty = complaints.stats(s, utcnow() - timedelta(days=10), utcnow() - timedelta(days=9))
    assert figures["received"] == 2 and figures["by_category"]["staff_conduct"] == 2
    assert figures["by_status"]["resolved"] == 1 and figures["by_status"]["received"] == 1
    assert figures["resolved"] == 1 and figures["average_hours_to_resolve"] is not None
    assert figures["responsible_staff"] == [{"staff_id": staff["agent1"], "name": "Agent One", "complaints": 1}]
    assert empty["received"] == 0 and empty["average_hours_to_resolve"] is None


def test_a_customer_who_chose_email_is_also_told_by_email(runtime, say, staff):
    from handlers.notices.delivery import EMAIL_JOB

    runtime.services.settings.smtp_host = "smtp.example.org"
    ticket = file_complaint(say("frank"), "other", "Nobody answered my letter for a month.", email="frank@example.org")
    act(runtime, ticket, "assign", staff_id=staff["agent1"])
    with runtime.services.db.session() as s:
        (mail,) = s.scalars(select(Job).where(Job.kind == EMAIL_JOB))
        assert mail.payload["to"] == "frank@example.org" and ticket in mail.payload["subject"]
        assert ticket in mail.payload["body"]


def test_an_unanswered_follow_up_is_escalated_after_the_automatic_visit(runtime, say, staff):
    ticket = file_complaint(say("alice"))
    act(runtime, ticket, "assign", staff_id=staff["agent1"])
    act(runtime, ticket, "start")
    act(runtime, ticket, "resolve", resolution="done")
    pass_deadline(runtime, ticket)
    assert runtime.jobs.run_due() == 1 and load(runtime, ticket).status == "follow_up"
    assert runtime.jobs.run_due() == 0
    pass_deadline(runtime, ticket)  # the customer never answered the follow-up
    assert runtime.jobs.run_due() == 1
    complaint = load(runtime, ticket)
    assert complaint.status == "follow_up" and complaint.overdue and complaint.escalated_to == staff["boss"]


def test_assigning_to_the_same_person_again_is_refused_and_tells_the_customer_nothing(runtime, say, staff):
    ticket = file_complaint(say("dora"))
    agent = staff["agent1"]
    act(runtime, ticket, "assign", agent, staff_id=agent)
    mark = last_outbox_id(runtime)
    for _ in range(3):
        with pytest.raises(complaints.IllegalTransition, match="already assigned"):
            act(runtime, ticket, "assign", agent, staff_id=agent)
    assert outbox_texts(runtime, "dora", mark) == []
    assert [e.action for e in load(runtime, ticket).events].count("assign") == 1


def test_the_follow_up_cannot_be_skipped_and_a_typed_answer_counts(runtime, say, staff):
    erin = say("erin")
    ticket = file_complaint(erin)
    for action, fields in (("assign", {"staff_id": staff["agent1"]}), ("start", {}), ("resolve", {"resolution": "ok"}),
                           ("follow_up", {})):
        act(runtime, ticket, action, **fields)
    with pytest.raises(complaints.IllegalTransition, match="waits for the customer's answer"):
        act(runtime, ticket, "close")
    assert "重新进入调查" in texts(erin("不满意"))  # typed, not pressed: the same answer
    complaint = load(runtime, ticket)
    assert (complaint.status, complaint.satisfied) == ("investigating", False)


def test_closing_an_unanswered_follow_up_after_its_time_and_a_stale_button(runtime, say, staff):
    gus = say("gus")
    ticket = file_complaint(gus)
    for action, fields in (("assign", {"staff_id": staff["agent1"]}), ("start", {}), ("resolve", {"resolution": "ok"}),
                           ("follow_up", {})):
        act(runtime, ticket, action, **fields)
    pass_deadline(runtime, ticket)
    act(runtime, ticket, "close")
    complaint = load(runtime, ticket)
    assert complaint.status == "closed" and complaint.satisfied is None
    assert complaint.events[-1].details == {"follow_up": "no_answer"}
    late = gus(button=f"complaint:satisfied:{ticket}:no")
    assert "已失效" in texts(late) and "complaint:start" in payloads(late)
