"""Handoff to staff, free of any platform and of any wording: the queue, an agent's ownership,
and the figures.

A conversation handed to staff gets one open ``HandoffSession``. Inside working hours (with an
agent on duty) it waits in the queue and the conversation switches to ``mode="human"``: the
engine records the customer's messages and the bot stays silent. Outside hours the question is
recorded, the bot keeps serving, and the agent's later answer reaches the customer through the
outbox like any notification. What the customer is told about it (an agent joined, goodbye, a
rating request) is the listeners' business (``handlers/notices/handoff.py``), on the events of
events.py.

queue.py reads the queue, actions.py changes it, assign.py chooses the agent of automatic
assignment, idle.py and balance.py are the jobs, figures.py counts;
topics.py the staff room's thread per customer; steps.py holds the lock, the trail and the idle timer they share; ports.py the typed dependencies.
"""
from domain.handoff.actions import (
    REASONS,
    StaffMessage,
    add_canned,
    add_note,
    assign_waiting,
    cancel_waiting,
    canned_replies,
    claim,
    close,
    enqueue_handoff,
    hand_back,
    notes,
    relay_to_staff,
    release,
    reply,
    set_on_duty,
    transfer,
)
from domain.handoff.assign import agent_loads, choose_agent
from domain.handoff.balance import run_balance
from domain.handoff.events import (
    HandoffAnswered,
    HandoffChanged,
    HandoffClosed,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    HandoffTransferred,
)
from domain.handoff.figures import stats
from domain.handoff.idle import run_idle
from domain.handoff.ports import HandoffServices, PlatformTransfer
from domain.handoff.queue import (
    QueueInfo,
    agent_capable,
    handle_minutes,
    last_closed,
    on_duty_agents,
    open_handoff,
    owned_by,
    queue_info,
    queue_position,
    waiting,
)
from domain.handoff.steps import BALANCE_JOB, IDLE_JOB, HandoffError
from domain.handoff.topics import set_thread, topic_by_thread, topic_for, topic_of
from domain.handoff.typing import agent_typing, is_agent_typing

__all__ = [
    "BALANCE_JOB",
    "IDLE_JOB",
    "REASONS",
    "HandoffAnswered",
    "HandoffChanged",
    "HandoffClosed",
    "HandoffError",
    "HandoffOpened",
    "HandoffReleased",
    "HandoffServices",
    "HandoffTaken",
    "HandoffTransferred",
    "PlatformTransfer",
    "QueueInfo",
    "StaffMessage",
    "add_canned",
    "add_note",
    "agent_capable",
    "agent_loads",
    "agent_typing",
    "assign_waiting",
    "cancel_waiting",
    "canned_replies",
    "choose_agent",
    "claim",
    "close",
    "enqueue_handoff",
    "hand_back",
    "handle_minutes",
    "is_agent_typing",
    "last_closed",
    "notes",
    "on_duty_agents",
    "open_handoff",
    "owned_by",
    "queue_info",
    "queue_position",
    "relay_to_staff",
    "release",
    "reply",
    "run_balance",
    "run_idle",
    "set_on_duty",
    "set_thread",
    "stats",
    "topic_by_thread",
    "topic_for",
    "topic_of",
    "transfer",
    "waiting",
]
