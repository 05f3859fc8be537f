"""Ticket summaries (日报 / 周报 / 月报 / 季报 / 年报) and the 投诉转接单, as JSON, XLSX and PDF.

Rule: supervisors and admins only; the figures are aggregated by the database
(`tickets.report_queries`), the forms come from `tickets.forms` — this module only asks
for them and picks a format.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from hotline.api import ticket_schemas as s
from hotline.api.audit import Action as AuditAction
from hotline.api.deps import Audit, Reports, Settings, Supervisor, Tickets, Timezone
from hotline.api.routes.common import XLSX, attachment, download
from hotline.core import pii
from hotline.core.errors import NotFound
from hotline.core.periods import Period
from hotline.core.report_jobs import ReportJob, ReportState
from hotline.quality.model import agent_number_from
from hotline.tickets.forms import TransferSlip, slip_pdf, slip_xlsx
from hotline.tickets.lifecycle import Action
from hotline.tickets.model import CATEGORY_LABELS
from hotline.tickets.reports import (
    SATISFACTION_LABELS,
    AssessRow,
    TicketReport,
    report_title,
    report_xlsx,
)

router = APIRouter(prefix="/api", tags=["ticket reports"])

TICKETS = "tickets"  # the report jobs' kind
LARGE_PERIODS = ("quarter", "year")
"""A ticket report over a quarter or a year is made as a job (202 and the job's address):
3 to 12 months of tickets, where a month is the longest range the aims promise to answer
within a request (500 ms at a million calls); a day, week or month is answered directly."""


def _assess_json(rows: list[AssessRow]) -> list[dict[str, Any]]:
    return [asdict(x) for x in rows]


def report_json(
    r: TicketReport, units: list[AssessRow] | None = None, agents: list[AssessRow] | None = None
) -> dict[str, Any]:
    return {
        **r.period.report_head("客服热线工单"),
        "created": r.created,
        "closed": r.closed,
        "open": r.open,
        "overdue": r.overdue,
        "urgent": r.urgent,
        "reopened": r.reopened,
        "on_spot": r.on_spot,
        "first_contact_rate": r.first_contact_rate,
        "by_source": [
            {**asdict(row), "source": row.source.value, "label": row.label} for row in r.by_source
        ],
        "assessment": {
            "units": _assess_json(units or []),
            "agents": _assess_json(agents or []),
        },
        "by_category": [
            {
                **asdict(row),
                "category": row.category.value if row.category else None,
                "label": CATEGORY_LABELS[row.category] if row.category else "未分类",
            }
            for row in r.by_category
        ],
        "by_unit": [asdict(row) for row in r.by_unit],
        "hot_topics": [{"topic": t, "tickets": n} for t, n in r.hot_topics],
        "escalated": [
            {
                "id": t.id,
                "level": int(t.complaint_level) if t.complaint_level else None,
                "unit": t.unit,
                "topic": t.topic,
                "summary": t.summary,
                "created_at": t.created_at,
                "state": t.state.value,
            }
            for t in r.escalated
        ],
        "satisfaction": [
            {"answer": s.value, "label": SATISFACTION_LABELS[s], "count": n}
            for s, n in r.satisfaction
        ],
    }


@router.get("/ticket-reports", response_model=None)
async def ticket_report(
    user: Supervisor,
    service: Tickets,
    tz: Timezone,
    audit: Audit,
    settings: Settings,
    period: Literal["day", "week", "month", "quarter", "year"] = "day",
    day: Annotated[
        str | None, Query(alias="date", description="a day of the period; default today")
    ] = None,
    format: Literal["json", "xlsx"] = "json",
    *,
    reports: Reports,
) -> Response:
    """日报 / 周报 / 月报 / 季报 / 年报: tickets by category, source and unit, overdue,
    level-1/2 complaints, 热点, satisfaction, reopened, 一次解决, and the 考核 table by unit
    and by agent, all computed by the database; `format=xlsx` downloads the workbook. A
    quarter or a year is made as a job: 202 with the job's address (`Location`), whose
    `GET` shows its progress and, once done, the link to download the file."""
    now = datetime.now(UTC)
    p = Period.parse(period, day or now, tz)  # default: today in the hotline's zone
    whole = pii.sees_whole(user.role.value, settings.security.whole_pii_roles)
    if format == "xlsx":
        name = f"{report_title(p)}.xlsx"
        await audit(user, AuditAction.EXPORT, detail=f"tickets-{period}-{p.first}.xlsx: {name}")
    if period in LARGE_PERIODS:
        params = {"period": period, "date": p.first.isoformat(), "format": format}
        job = await reports.start(
            TICKETS, {**params, "whole_pii": whole}, user.name, f"{report_title(p)}.{format}"
        )
        return json_response(report_job_json(job), 202, Location=_job_url(job.id))
    if format == "xlsx":  # written in a worker thread: the service goes on meanwhile
        report, units, agents = await service.store.ticket_report(p, now)
        text = None if whole else pii.mask_text
        body = await asyncio.to_thread(report_xlsx, report, units, agents, text=text)
        return download(body, XLSX, f"tickets-{period}-{p.first}.xlsx", name)
    figures = await report_figures(user, service, p, now)
    return await asyncio.to_thread(json_response, figures)


async def report_figures(
    user: Supervisor, service: Tickets, p: Period, now: datetime
) -> dict[str, Any]:
    """The period's report as its JSON body (the API's and the report pages' alike), built
    in a worker thread from the database's figures."""
    report, units, agents = await service.store.ticket_report(p, now)
    return await asyncio.to_thread(report_json, report, units, agents)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def json_response(body: dict[str, Any], status_code: int = 200, **headers: str) -> Response:
    """A report's JSON, dumped at once (FastAPI's encoder walks each of the 考核 table's
    thousands of values in Python: ten times slower than `json.dumps`)."""
    text = json.dumps(body, default=_plain, ensure_ascii=False)
    return Response(text, status_code, headers, media_type="application/json")


def _job_url(job_id: int) -> str:
    return f"/api/ticket-reports/jobs/{job_id}"


def report_job_json(job: ReportJob) -> dict[str, Any]:
    """A report job as its owner sees it: state, progress and, when done, the download."""
    url = _job_url(job.id)
    return {
        "id": job.id,
        "url": url,
        "title": job.title,
        "state": job.state.value,
        "label": job.label,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "download": f"{url}/file" if job.state is ReportState.DONE else None,
    }


@router.get("/ticket-reports/jobs/{job_id}")
async def ticket_report_job(user: Supervisor, reports: Reports, job_id: int) -> dict[str, Any]:
    """A ticket report made as a job: its state and progress (steps done of total); the
    `download` link once it is done. Only the supervisor who asked for it sees it."""
    return report_job_json(await reports.get(job_id, user.name))


@router.get("/ticket-reports/jobs/{job_id}/file", response_model=None)
async def ticket_report_job_file(user: Supervisor, reports: Reports, job_id: int) -> Response:
    """The finished report's file (XLSX or JSON), streamed from disk; kept 24 hours."""
    job = await reports.get(job_id, user.name)
    path = reports.file(job)
    media = XLSX if path.suffix == ".xlsx" else "application/json"
    ascii_name = f"tickets-{job.params['period']}-{job.params['date']}{path.suffix}"
    return FileResponse(path, media_type=media, headers=attachment(ascii_name, job.title))


@router.post("/ticket-verification/draw")
async def draw_verification(
    _: Supervisor,
    service: Tickets,
    tz: Timezone,
    period: Literal["day", "week", "month", "quarter", "year"] = "quarter",
    day: Annotated[str | None, Query(alias="date", description="a day of the period")] = None,
) -> dict[str, Any]:
    """Draw the policy's share of the period's closed tickets into the verification queue
    (003: 20 % of the repair records each quarter)."""
    p = Period.parse(period, day or datetime.now(UTC), tz)
    drawn = await service.draw_verification(p)
    return {"period": p.key, "drawn": drawn, "share": service.policy.verification.share}


@router.get("/ticket-verification", response_model=list[s.TicketOut])
async def verification_queue(_: Supervisor, service: Tickets) -> list[s.TicketOut]:
    """The drawn tickets waiting for their check, oldest first."""
    ids = await service.store.verification_queue()
    return [s.ticket_out(await service.store.require(i)) for i in ids]


@router.post("/tickets/{ticket_id}/verification", response_model=s.TicketOut)
async def record_verification(
    user: Supervisor, service: Tickets, ticket_id: int, body: s.VerifyIn
) -> s.TicketOut:
    rec = await service.record_verification(
        ticket_id, passed=body.passed, note=body.note, actor=user.name, role=user.role
    )
    return s.ticket_out(rec)


@router.get("/tickets/{ticket_id}/transfer-slip", response_model=None)
async def transfer_slip(
    user: Supervisor,
    service: Tickets,
    settings: Settings,
    audit: Audit,
    ticket_id: int,
    format: Literal["pdf", "xlsx"] = "pdf",
    complainant: Annotated[str, Query(max_length=64, description="投诉人 as printed")] = "",
    organisation: Annotated[str, Query(max_length=64)] = "客服中心",
) -> Response:
    """投诉转接单 of one ticket (it needs a responsible unit): PDF (A4) or XLSX."""
    store = service.store
    rec = await store.get(ticket_id)
    if rec is None:
        raise NotFound(f"没有编号为 {ticket_id} 的工单 (no ticket {ticket_id}): check the number")
    t = rec.ticket
    dispatches = [  # to its unit: a 回退 and a dispatch elsewhere start a new transfer
        e.at
        for e in await store.history(t.id)
        if e.action == Action.DISPATCH and e.detail.get("unit") == t.unit
    ]
    number = agent_number_from(settings.quality.agent_number_pattern, t.agent)
    result = t.close_reason or ""
    if t.satisfaction is not None:
        result = f"回访：{SATISFACTION_LABELS[t.satisfaction]}" + (f"；{result}" if result else "")
    slip = TransferSlip.from_ticket(
        t,
        complainant=complainant,
        handling=rec.reply or "",
        result=result,
        tz=settings.timezone,
        transferred_at=min(dispatches, default=None),
        agent=f"工号 {number}" if number else None,
    )
    if not pii.sees_whole(user.role.value, settings.security.whole_pii_roles):
        slip = replace(
            slip, contact=pii.mask_text(slip.contact), content=pii.mask_text(slip.content)
        )
    name = f"投诉转接单-{t.id}"
    await audit(user, AuditAction.SLIP, detail=f"ticket={t.id}; format={format}")
    if format == "xlsx":
        body = slip_xlsx(slip, organisation=organisation)
        return download(body, XLSX, f"transfer-slip-{t.id}.xlsx", name + ".xlsx")
    pdf = slip_pdf(slip, organisation=organisation)
    return download(pdf, "application/pdf", f"transfer-slip-{t.id}.pdf", name + ".pdf")
