"""Report pages (日报 / 周报 / 月报): service level, quality, tickets, agent states, each as
tables and simple bar charts with the API's own XLSX download. Rule: the figures are what
the API's report route returns for this user, called with the same dependencies; this
module picks the period and turns the figures into charts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.deps import (
    Calls,
    Live,
    Quality,
    Reports,
    Rule,
    Settings,
    Supervisor,
    Surveys,
    Tickets,
    Timezone,
    auditor,
)
from hotline.api.quality_schemas import ReportOut
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import live as live_routes
from hotline.api.routes import quality as quality_routes
from hotline.api.routes import surveys as survey_routes
from hotline.api.routes import ticket_reports as ticket_report_routes
from hotline.core.periods import Period, PeriodKind
from hotline.telephony.model import SurveyResult
from hotline.web.charts import bar_chart
from hotline.web.forms import parse_query
from hotline.web.render import page

router = APIRouter(include_in_schema=False)

KINDS = {
    "service-level": "服务水平",
    "quality": "质检",
    "tickets": "工单",
    "agents": "坐席状态",
    "satisfaction": "满意度",
}
PERIODS = {"day": "日报", "week": "周报", "month": "月报"}
LARGE = {"quarter": "季报", "year": "年报"}  # the ticket report's, made as a job
LOW_WITHIN_PCT = 80.0  # a queue or agent below this is drawn red
LOW_SATISFIED_PCT = 80.0  # 满意率 below this is drawn red


def _pct(v: float) -> str:
    return f"{v:.1f}%"


def _minutes(v: float) -> str:
    return f"{v:.0f}分"


class ReportQuery(BaseModel):
    period: Literal["day", "week", "month", "quarter", "year"] = "day"
    date_: date | None = Field(None, alias="date")


def _small(period: str) -> Literal["day", "week", "month"]:
    """The period of a report that has only 日报, 周报, 月报 (`_period` made sure)."""
    if period not in PERIODS:
        raise ValueError(period)
    return cast(Literal["day", "week", "month"], period)


def _period(
    request: Request, tz: str, periods: dict[str, str] = PERIODS
) -> tuple[ReportQuery, Period, dict[str, str]]:
    q, errors = parse_query(request, ReportQuery)
    if "date" in errors:
        errors["date"] = "请选择日期，例如 2024-11-23"
    if q.period not in periods:
        errors["period"] = f"该报表只有{'、'.join(periods.values())}，请重新选择周期"
        q = q.model_copy(update={"period": "day"})
    p = Period.of(PeriodKind(q.period), q.date_ or datetime.now(UTC), tz)
    return q, p, errors


def _context(request: Request, kind: str, q: ReportQuery, p: Period) -> dict[str, Any]:
    query = {"period": q.period, "date": p.first.isoformat()}
    return {
        "kind": kind,
        "kinds": KINDS,
        "periods": PERIODS,
        "q": q,
        "day": (q.date_ or p.first).isoformat(),
        "p": p,
        "query": urlencode(query),
        "xlsx": urlencode({**query, "format": "xlsx"}),
        "job": None,
    }


@router.get("/reports")
async def reports_home() -> Response:
    return RedirectResponse("/reports/service-level", status_code=303)


@router.get("/reports/service-level")
async def service_level(
    request: Request, user: Supervisor, calls: Calls, rule: Rule, tz: Timezone
) -> Response:
    q, p, errors = _period(request, tz)
    since, until = p.start_utc, p.end_utc
    total = await calls_routes.service_level(user, calls, rule, tz, since, until, by="all")
    queues = await calls_routes.service_level(user, calls, rule, tz, since, until, by="queue")
    agents = await calls_routes.service_level(user, calls, rule, tz, since, until, by="agent")
    charts = [
        bar_chart(
            "各队列三声内接通率",
            [(r.key or "无队列", r.within_rule_pct) for r in queues.rows],
            fmt=_pct,
            top=100,
            bad=_low_within,
        ),
        bar_chart("各队列放弃来电", [(r.key or "无队列", float(r.abandoned)) for r in queues.rows]),
        bar_chart(
            "各坐席三声内接通率",
            [(r.key or "无坐席", r.within_rule_pct) for r in agents.rows if r.key],
            fmt=_pct,
            top=100,
            bad=_low_within,
        ),
    ]
    context = _context(request, "service-level", q, p)
    context.update(
        errors=errors,
        total=total.rows[0] if total.rows else None,
        queues=queues,
        agents=agents,
        charts=charts,
        xlsx_url=None,  # the API has no workbook of this report yet
        low=LOW_WITHIN_PCT,
    )
    return page(request, "supervisor/report_service.html", context)


@router.get("/reports/quality")
async def quality(request: Request, user: Supervisor, store: Quality, tz: Timezone) -> Response:
    q, p, errors = _period(request, tz)
    r = await quality_routes.report(user, store, tz, auditor(request), period=p.kind, day=p.first)
    assert isinstance(r, ReportOut)
    charts = [
        bar_chart("各坐席平均分", [(g.name, g.average) for g in r.agents], top=100, bad=_low_score),
        bar_chart("规则命中次数", [(x.name, float(x.hits)) for x in r.rules]),
    ]
    context = _context(request, "quality", q, p)
    context.update(errors=errors, r=r, charts=charts, xlsx_url="/api/quality/reports?")
    return page(request, "supervisor/report_quality.html", context)


def _low_within(v: float) -> bool:
    return v < LOW_WITHIN_PCT


def _low_score(v: float) -> bool:
    return v < 60


@router.get("/reports/tickets")
async def tickets(
    request: Request,
    user: Supervisor,
    service: Tickets,
    tz: Timezone,
    settings: Settings,
    reports: Reports,
) -> Response:
    """A day, week or month is shown at once; a quarter or a year is made as a job (the
    API's 202): the page shows its progress bar, polled, and then the workbook's link."""
    q, p, errors = _period(request, tz, {**PERIODS, **LARGE})
    context = _context(request, "tickets", q, p)
    context.update(periods={**PERIODS, **LARGE}, errors=errors)
    if q.period in LARGE:
        started = await ticket_report_routes.ticket_report(
            user, service, tz, auditor(request), settings, q.period, p.first.isoformat(),
            "xlsx", reports=reports,
        )  # fmt: skip
        context.update(job=json.loads(bytes(started.body)), xlsx_url=None)
        return page(request, "supervisor/report_tickets.html", context)
    r = await ticket_report_routes.report_figures(user, service, p, datetime.now(UTC))
    charts = [
        bar_chart("各类别新建工单", [(c["label"], float(c["created"])) for c in r["by_category"]]),
        bar_chart(
            "各单位超时工单",
            [(u["unit"] or "未派发", float(u["overdue"])) for u in r["by_unit"]],
            bad=lambda v: v > 0,
        ),
    ]
    context.update(r=r, charts=charts, xlsx_url="/api/ticket-reports?")
    return page(request, "supervisor/report_tickets.html", context)


@router.get("/reports/jobs/{job_id}")
async def report_job(request: Request, user: Supervisor, reports: Reports, job_id: int) -> Response:
    """A ticket report job's progress (polled by its page every second while it runs)."""
    job = await ticket_report_routes.ticket_report_job(user, reports, job_id)
    return page(request, "supervisor/report_job.html", {"job": job})


@router.get("/reports/agents")
async def agents(request: Request, user: Supervisor, live: Live, tz: Timezone) -> Response:
    q, p, errors = _period(request, tz)
    r = await live_routes.reports(
        user, live, auditor(request), period=_small(q.period), day=p.first.isoformat()
    )
    assert isinstance(r, dict)
    rows = r["agents"]
    charts = [
        bar_chart(
            "各坐席通话时长",
            [(a["member"] or a["agent"], a["talk_seconds"] / 60) for a in rows],
            fmt=_minutes,
        ),
        bar_chart(
            "各坐席示忙时长",
            [(a["member"] or a["agent"], a["paused_seconds"] / 60) for a in rows],
            fmt=_minutes,
        ),
        bar_chart(
            "各坐席占用率",
            [
                (
                    a["member"] or a["agent"],
                    None if a["occupancy"] is None else a["occupancy"] * 100,
                )
                for a in rows
            ],
            fmt=_pct,
            top=100,
        ),
    ]
    context = _context(request, "agents", q, p)
    context.update(errors=errors, r=r, charts=charts, xlsx_url="/api/live/reports?")
    return page(request, "supervisor/report_agents.html", context)


@router.get("/reports/satisfaction")
async def satisfaction(
    request: Request,
    user: Supervisor,
    surveys: Surveys,
    service: Tickets,
    tz: Timezone,
) -> Response:
    """The callers' own survey (参评率 / 满意率, and the 不满意 to follow up) beside the
    回访 satisfaction of tickets: two figures, two tables, never added together."""
    q, p, errors = _period(request, tz)
    r = await survey_routes.survey_report(
        user, surveys, tz, auditor(request), period=_small(q.period), day=p.first.isoformat()
    )
    tickets = await ticket_report_routes.report_figures(user, service, p, datetime.now(UTC))
    assert isinstance(r, dict)
    unhappy = await survey_routes.list_surveys(
        user, surveys, tz, p.start_utc, p.end_utc, result=SurveyResult.UNSATISFIED
    )
    charts = [
        bar_chart(
            "各坐席满意率",
            [(a["key"] or "未知", a["satisfaction_pct"]) for a in r["agents"]],
            fmt=_pct,
            top=100,
            bad=lambda v: v < LOW_SATISFIED_PCT,
        ),
    ]
    context = _context(request, "satisfaction", q, p)
    context.update(
        errors=errors,
        r=r,
        unhappy=unhappy,
        followup=tickets["satisfaction"],
        charts=charts,
        low=LOW_SATISFIED_PCT,
        xlsx_url="/api/survey-reports?",
    )
    return page(request, "supervisor/report_satisfaction.html", context)
