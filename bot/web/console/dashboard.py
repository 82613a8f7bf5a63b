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

from bot import handoff
from bot.auth import get_session
from bot.i18n import table
from bot.web.console.pages import console_lang, render
from bot.web.console.security import require_staff
from storage.models import StaffUser, utcnow

router = APIRouter(prefix="/console/dashboard")
SUPERVISOR = require_staff("supervisor")
PERIODS = (1, 7, 30, 90)

StatsFunction = Callable[..., dict[str, Any]]
#: (name, ``stats(session, since, until)``) of every feature with figures: applications, complaints
#: and ratings add theirs. A provider that also takes ``zone`` gets the staff's time zone for day buckets.
STAT_PROVIDERS: list[tuple[str, StatsFunction]] = [("handoff", handoff.stats)]


def figures_of(request: Request, provider: StatsFunction, session: Session, since: datetime,
               until: datetime) -> dict[str, Any]:
    if "zone" in inspect.signature(provider).parameters:
        zone = request.app.state.services.settings.working_hours.zone
        return provider(session, since, until, zone=zone)
    return provider(session, since, until)


def label(provider: str, key: str, lang: str) -> str:
    """The i18n label ``console.metric.<provider>.<key>``, or the key made readable."""
    texts = table().get(f"console.metric.{provider}.{key}")
    return texts[lang] if texts else key.replace("_", " ")


def split(figures: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(scalar figures with nested dicts flattened as ``a.b``, lists of rows by name)."""
    scalars: dict[str, Any] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                if not isinstance(inner, (dict, list)):
                    scalars[f"{key}.{sub}"] = inner
        elif isinstance(value, list):
            tables[key] = [row for row in value if isinstance(row, dict)]
        else:
            scalars[key] = value
    return scalars, tables


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


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, days: int = 7, user: StaffUser = Depends(SUPERVISOR),
              session: Session = Depends(get_session)) -> HTMLResponse:
    since, until = period(days)
    lang = console_lang(request)
    reports = []
    for name, provider in STAT_PROVIDERS:
        figures = figures_of(request, provider, session, since, until)
        scalars, tables = split(figures)
        title = table().get(f"console.dashboard.report.{name}")
        reports.append({
            "name": name, "figures": figures, "title": title[lang] if title else name,
            "scalars": [(key, label(name, key, lang), value) for key, value in scalars.items()],
            "tables": {key: {"label": label(name, key, lang), "rows": rows,
                             "columns": [(c, label(name, c, lang)) for c in (rows[0].keys() if rows else [])]}
                       for key, rows in tables.items()},
        })
    main = reports[0]["figures"]
    charts = {
        "daily": bar_chart(main["daily"], "day", ["handoffs", "answered", "within_target"]),
        "reasons": sorted(main["by_reason"].items(), key=lambda item: -item[1]),
        "reason_peak": max([1, *main["by_reason"].values()]),
    }
    return render(request, "console/dashboard.html", {"days": days, "periods": PERIODS, "reports": reports,
                                                      "main": main, "charts": charts})


@router.get("/{provider}/{part}.csv")
def export(provider: str, part: str, request: Request, days: int = 7, user: StaffUser = Depends(SUPERVISOR),
           session: Session = Depends(get_session)) -> Response:
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
        columns = list(rows[0].keys()) if rows else []
        writer.writerow(columns)
        writer.writerows([[row.get(c) for c in columns] for row in rows])
    else:
        raise HTTPException(404, "no such report")
    filename = f"{provider}-{part}-{since:%Y%m%d}-{until:%Y%m%d}.csv"
    # A byte-order mark so spreadsheet programs read the Chinese text as UTF-8.
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
