"""The supervisors' dashboard: figures from every feature's ``stats(session, since, until)``,
charts drawn as inline SVG on the server, and each report as CSV.

A report is one part of one provider's figures: ``summary`` (its numbers, flattened) or any
list of rows it returns (``per_agent``, ``daily``, ...). Features add themselves to
``STAT_PROVIDERS``; the page shows whatever they return.
"""
from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.console.pages import console_lang, render
from bot.web.console.security import require_staff
from domain import applications, complaints, handoff, ratings
from handlers.i18n import t, table
from storage.models import StaffUser, utcnow

router = APIRouter(prefix="/console/dashboard")
SUPERVISOR = require_staff("supervisor")
PERIODS = (1, 7, 30, 90)

StatsFunction = Callable[..., dict[str, Any]]
#: (name, ``stats(session, since, until)``) of every feature with figures; the FAQ adds its answer
#: rate. A provider that also takes ``zone`` gets the staff's time zone for day buckets.
STAT_PROVIDERS: list[tuple[str, StatsFunction]] = [
    ("handoff", handoff.stats), ("ratings", ratings.stats), ("complaints", complaints.stats),
    ("applications", applications.stats),
]
#: The figures at the top of the page, as (provider, flattened key); those of a missing provider are left out.
HEADLINES: list[tuple[str, str]] = [
    ("handoff", "queue_now"), ("handoff", "oldest_wait_s"), ("handoff", "agents_on_duty"),
    ("handoff", "handoffs"), ("handoff", "handoff_rate"), ("handoff", "first_response_avg_s"),
    ("handoff", "within_target_rate"), ("handoff", "wait_avg_s"), ("ratings", "scores.average"),
    ("ratings", "requests.response_rate"), ("complaints", "received"), ("complaints", "overdue_now"),
    ("complaints", "follow_up_answers.satisfaction_rate"), ("applications", "open"),
    ("applications", "overdue"), ("applications", "compliance"),
]
#: Keys every provider repeats that the page already shows as the period.
HIDDEN = {"since", "until"}
#: Counts by category, drawn as bar charts: (provider, key) -> i18n key of one category's name.
DISTRIBUTIONS: dict[tuple[str, str], str] = {
    ("handoff", "by_reason"): "console.handoff.reason.{}",
    ("ratings", "scores.distribution"): "console.dashboard.stars.{}",
    ("complaints", "by_category"): "complaint.category.{}",
    ("complaints", "by_status"): "complaint.console.status.{}",
    ("applications", "by_stage"): "application.stage.{}",
}
#: Figures per category, each a few numbers (``by_subject.handoff.count``): (provider, key) -> the
#: i18n key of one category's name.
GROUPS: dict[tuple[str, str], str] = {("ratings", "by_subject"): "console.dashboard.subject.{}"}
CHARTS = [("handoff", "by_reason"), ("ratings", "scores.distribution"), ("complaints", "by_category"),
          ("applications", "by_stage")]


def figures_of(request: Request, provider: StatsFunction, session: Session, since: datetime,
               until: datetime) -> dict[str, Any]:
    if "zone" in inspect.signature(provider).parameters:
        zone = request.app.state.services.settings.working_hours.zone
        return provider(session, since, until, zone=zone)
    return provider(session, since, until)


def label(provider: str, key: str, lang: str) -> str:
    """The i18n label ``console.metric.<provider>.<key>``; for one category of a distribution,
    the distribution's label and the category's name; else the key made readable."""
    texts = table().get(f"console.metric.{provider}.{key}")
    if texts:
        return texts[lang]
    parent, _, part = key.rpartition(".")
    name_key = DISTRIBUTIONS.get((provider, parent), "").format(part)
    if name_key in table():
        return f"{label(provider, parent, lang)}: {t(name_key, lang)}"
    group, _, category = parent.rpartition(".")
    name_key = GROUPS.get((provider, group), "").format(category)
    if name_key in table():
        return f"{label(provider, group, lang)}: {t(name_key, lang)}: {label(provider, part, lang)}"
    return key.replace("_", " ")


def flatten(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``scores.average``); lists are left as they are."""
    flat: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def split(figures: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(the scalar figures by dotted key, the lists of rows by dotted key, rows flattened too)."""
    scalars: dict[str, Any] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    for key, value in flatten(figures).items():
        if key in HIDDEN:
            continue
        if isinstance(value, list):
            tables[key] = [flatten(row) for row in value if isinstance(row, dict)]
        else:
            scalars[key] = value
    return scalars, tables


def columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def period(days: int) -> tuple[datetime, datetime]:
    if days not in PERIODS:
        raise HTTPException(400, f"days must be one of {', '.join(map(str, PERIODS))}")
    until = utcnow()
    return until - timedelta(days=days), until


def bar_chart(rows: list[dict[str, Any]], x: str, series: list[str], height: int = 160) -> dict[str, Any]:
    """Geometry of a grouped bar chart for the template's inline SVG."""
    peak = max([float(row.get(s) or 0) for row in rows for s in series] + [1.0])
    group = max(18, min(60, 720 // max(1, len(rows))))
    bar = max(4, (group - 6) // max(1, len(series)))
    bars = []
    for i, row in enumerate(rows):
        for j, name in enumerate(series):
            value = float(row.get(name) or 0)
            h = round(value / peak * (height - 20))
            bars.append({"x": 30 + i * group + j * bar, "y": height - h, "w": bar - 1, "h": h, "series": j,
                         "title": f"{row.get(x)} {name}: {row.get(name)}"})
    labels = [{"x": 30 + i * group, "text": str(row.get(x))[-5:]} for i, row in enumerate(rows)]
    return {"bars": bars, "labels": labels, "width": 40 + len(rows) * group, "height": height, "peak": peak,
            "series": series}


def hbars(title: str, items: list[tuple[str, Any]]) -> dict[str, Any]:
    """A horizontal bar chart of (label, count) for the template's inline SVG."""
    peak = max([1.0, *(float(v or 0) for _, v in items)])
    return {"title": title, "rows": [{"label": text, "value": value, "width": round(float(value or 0) / peak * 230)}
                                     for text, value in items]}


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, days: int = 7, user: StaffUser = Depends(SUPERVISOR),
              session: Session = DB_SESSION) -> HTMLResponse:
    since, until = period(days)
    lang = console_lang(request)
    reports = []
    headline_values: dict[tuple[str, str], Any] = {}
    for name, provider in STAT_PROVIDERS:
        figures = figures_of(request, provider, session, since, until)
        scalars, tables = split(figures)
        headline_values.update({(name, key): value for key, value in scalars.items()})
        title = table().get(f"console.dashboard.report.{name}")
        reports.append({
            "name": name, "figures": figures, "title": title[lang] if title else name,
            "scalars": [(key, label(name, key, lang), value) for key, value in scalars.items()],
            "tables": {key: {"label": label(name, key, lang), "rows": rows,
                             "columns": [(c, label(name, c, lang)) for c in columns(rows)]}
                       for key, rows in tables.items()},
        })
    main = reports[0]["figures"]
    charts = {
        "daily": bar_chart(main["daily"], "day", ["handoffs", "answered", "within_target"]),
        "bars": [hbars(label(name, key, lang), [
                     (t(DISTRIBUTIONS[(name, key)].format(flat.removeprefix(key + ".")), lang), value)
                     for (provider, flat), value in headline_values.items()
                     if provider == name and flat.startswith(key + ".")])
                 for name, key in CHARTS if any(p == name for p, _ in STAT_PROVIDERS)],
    }
    headlines = [(f"{name}-{key}".replace(".", "-"), key, label(name, key, lang), headline_values[(name, key)])
                 for name, key in HEADLINES if (name, key) in headline_values]
    return render(request, "console/dashboard.html", {"days": days, "periods": PERIODS, "reports": reports,
                                                      "headlines": headlines, "charts": charts})


@router.get("/{provider}/{part}.csv")
def export(provider: str, part: str, request: Request, days: int = 7, user: StaffUser = Depends(SUPERVISOR),
           session: Session = DB_SESSION) -> Response:
    functions = dict(STAT_PROVIDERS)
    if provider not in functions:
        raise HTTPException(404, "no such report")
    since, until = period(days)
    scalars, tables = split(figures_of(request, functions[provider], session, since, until))
    out = io.StringIO()
    writer = csv.writer(out)
    if part == "summary":
        writer.writerow(["metric", "value"])
        writer.writerows(scalars.items())
    elif part in tables:
        rows = tables[part]
        names = columns(rows)
        writer.writerow(names)
        writer.writerows([[row.get(c) for c in names] for row in rows])
    else:
        raise HTTPException(404, "no such report")
    filename = f"{provider}-{part}-{since:%Y%m%d}-{until:%Y%m%d}.csv"
    # A byte-order mark so spreadsheet programs read the Chinese text as UTF-8.
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
