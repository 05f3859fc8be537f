"""The post-call survey: the supervisor's list of verdicts (不满意 first of all) and the
来电满意度 reports (参评率 / 满意率 per agent and queue, day / week / month)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from hotline.api.audit import Action as AuditAction
from hotline.api.deps import Audit, Supervisor, Surveys, Timezone
from hotline.api.routes.common import XLSX, Since, Until, download, time_range
from hotline.core.periods import Period
from hotline.telephony.model import SurveyResult
from hotline.telephony.survey_reports import (
    SurveyReport,
    report_json,
    report_title,
    report_xlsx,
)
from hotline.telephony.survey_store import Survey

router = APIRouter(prefix="/api", tags=["surveys"])


def survey_json(s: Survey) -> dict[str, Any]:
    return {
        "call_id": s.call_id,
        "result": s.result.value,
        "label": s.label,
        "offered_at": s.offered_at,
        "queue": s.queue,
        "agent_member": s.agent_member,
        "agent_interface": s.agent_interface,
        "caller_number": s.caller_number,
    }


@router.get("/surveys")
async def list_surveys(
    _: Supervisor,
    surveys: Surveys,
    tz: Timezone,
    since: Since = None,
    until: Until = None,
    result: SurveyResult | None = None,
    agent: Annotated[str | None, Query(max_length=128, description="member or interface")] = None,
    queue: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Survey verdicts, newest first; `result=unsatisfied` is the list of 不满意 to follow up."""
    since, until = time_range(tz, since, until)
    found = await surveys.find(
        since=since, until=until, result=result, agent=agent, queue=queue, limit=limit
    )
    return [survey_json(s) for s in found]


@router.get("/survey-reports", response_model=None)
async def survey_report(
    user: Supervisor,
    surveys: Surveys,
    tz: Timezone,
    audit: Audit,
    period: Literal["day", "week", "month"] = "day",
    day: Annotated[
        str | None, Query(alias="date", description="a day of the period; default today")
    ] = None,
    format: Literal["json", "xlsx"] = "json",
) -> dict[str, Any] | Response:
    """来电满意度日报 / 周报 / 月报: 参评率 and 满意率 for all, per agent and per queue."""
    p = Period.parse(period, day or datetime.now(UTC), tz)
    since, until = p.start_utc, p.end_utc
    report = SurveyReport(
        p,
        (await surveys.rates(since, until, "all"))[0],
        await surveys.rates(since, until, "agent"),
        await surveys.rates(since, until, "queue"),
    )
    if format == "xlsx":
        ascii_name = f"surveys-{period}-{p.first}.xlsx"
        name = f"{report_title(p)}.xlsx"
        await audit(user, AuditAction.EXPORT, detail=f"{ascii_name}: {name}")
        return download(report_xlsx(report), XLSX, ascii_name, name)
    return report_json(report)
