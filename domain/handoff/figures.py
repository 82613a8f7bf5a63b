"""Handoff figures for the dashboard and reports: the queue now, waits, first-response times
against the target, the handoff rate, and per-agent and per-day counts for a period."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.handoff.actions import REASONS
from domain.handoff.assign import ASSIGNED
from domain.handoff.queue import on_duty_agents, waiting
from storage.models import HandoffEvent, HandoffSession, Message, StaffUser, utcnow


def _avg(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def stats(session: Session, since: datetime, until: datetime, zone: tzinfo = timezone.utc) -> dict[str, Any]:
    """Every figure of handoffs created in [since, until); ``daily`` counts by day in ``zone``."""
    rows = list(session.scalars(
        select(HandoffSession).where(HandoffSession.created_at >= since, HandoffSession.created_at < until)
    ))
    conversations = session.scalar(
        select(func.count(func.distinct(Message.conversation_id))).where(
            Message.direction == "in", Message.created_at >= since, Message.created_at < until)
    ) or 0
    answered = [r for r in rows if r.first_response_seconds is not None]
    response = [r.first_response_seconds for r in answered if r.first_response_seconds is not None]
    within = sum(1 for r in answered if r.met_target)
    waits = [(r.claimed_at - r.clock_start).total_seconds() for r in rows
             if r.claimed_at is not None and r.claimed_at >= r.clock_start]
    return {
        **_queue_now(session),
        "handoffs": len(rows),
        "after_hours": sum(1 for r in rows if r.clock_start > r.created_at),
        "by_reason": {reason: sum(1 for r in rows if r.reason == reason) for reason in REASONS},
        "conversations": int(conversations),
        "handoff_rate": _rate(len(rows), conversations),
        "answered": len(answered),
        "first_response_avg_s": _avg(response),
        "first_response_median_s": round(statistics.median(response), 1) if response else None,
        "within_target": within,
        "within_target_rate": _rate(within, len(answered)),
        "wait_avg_s": _avg(waits),
        "wait_max_s": round(max(waits), 1) if waits else None,
        "cancelled": sum(1 for r in rows if r.close_kind == "cancelled"),
        "per_agent": _per_agent(session, since, until, answered),
        "daily": _daily(rows, zone),
    }


def _queue_now(session: Session) -> dict[str, Any]:
    now = utcnow()
    queue = waiting(session)
    return {
        "queue_now": len(queue),
        "queue_live": sum(1 for h in queue if not h.after_hours),
        "queue_recorded": sum(1 for h in queue if h.after_hours),
        "oldest_wait_s": round(max(((now - h.clock_start).total_seconds() for h in queue), default=0.0), 1),
        "active_now": session.scalar(select(func.count()).select_from(HandoffSession)
                                     .where(HandoffSession.status == "active")) or 0,
        "agents_on_duty": len(on_duty_agents(session)),
    }


def _per_agent(session: Session, since: datetime, until: datetime,
               answered: list[HandoffSession]) -> list[dict[str, Any]]:
    """Claims, closes, transfers out and idle requeues from the trail; first responses from the
    handoffs; one row per agent who did anything, by name."""
    events = session.execute(
        select(HandoffEvent.kind, HandoffEvent.staff_id, HandoffEvent.detail).where(
            HandoffEvent.created_at >= since, HandoffEvent.created_at < until)
    ).all()
    agents = {u.id: u for u in session.scalars(select(StaffUser))}
    per_agent: dict[int, dict[str, Any]] = {}
    times: dict[int, list[float]] = {}

    def agent_row(agent_id: int) -> dict[str, Any]:
        user = agents.get(agent_id)
        times.setdefault(agent_id, [])
        return per_agent.setdefault(agent_id, {
            "agent_id": agent_id, "agent": user.display_name if user else str(agent_id),
            "on_duty": bool(user and user.on_duty), "claimed": 0, "closed": 0, "answered": 0,
            "within_target": 0, "first_response_avg_s": None, "transferred_out": 0, "requeued_idle": 0,
        })

    for kind, staff_id, detail in events:
        if kind in ("claimed", ASSIGNED) and staff_id:
            agent_row(staff_id)["claimed"] += 1
        elif kind in ("closed", "handback") and staff_id:
            agent_row(staff_id)["closed"] += 1
        elif kind == "transferred" and detail.get("from_agent"):
            agent_row(detail["from_agent"])["transferred_out"] += 1
        elif kind == "requeued" and detail.get("why") == "idle" and detail.get("from_agent"):
            agent_row(detail["from_agent"])["requeued_idle"] += 1
    for r in answered:
        if r.first_responder_id is None or r.first_response_seconds is None:
            continue
        row = agent_row(r.first_responder_id)
        row["answered"] += 1
        row["within_target"] += 1 if r.met_target else 0
        times[r.first_responder_id].append(r.first_response_seconds)
    for agent_id, row in per_agent.items():
        row["first_response_avg_s"] = _avg(times[agent_id])
    return sorted(per_agent.values(), key=lambda row: row["agent"])


def _daily(rows: list[HandoffSession], zone: tzinfo) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = r.created_at.astimezone(zone).date().isoformat()
        day = days.setdefault(name, {"day": name, "handoffs": 0, "answered": 0, "within_target": 0})
        day["handoffs"] += 1
        if r.first_response_seconds is not None:
            day["answered"] += 1
            day["within_target"] += 1 if r.met_target else 0
    return [days[k] for k in sorted(days)]
