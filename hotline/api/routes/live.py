"""The switch as it is now: a snapshot, a Server-Sent-Events stream, agent state reports.

Rule: thin. Supervisors see every agent and caller; anyone else their own member's state
and their queues' waiting counts (`live_feed.View` decides, for the snapshot and the stream).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from hotline.api.audit import Action as AuditAction
from hotline.api.deps import AnyUser, Audit, Live, Supervisor
from hotline.api.live_feed import View
from hotline.api.routes.common import XLSX, download
from hotline.core.periods import Period
from hotline.telephony.live_reports import report_json, report_title, report_xlsx, summarize

router = APIRouter(prefix="/api/live", tags=["live"])


@router.get("")
async def snapshot(user: AnyUser, live: Live) -> dict[str, Any]:
    """Agents (activity, since, pause reason, device, calls) and queues (waiting callers,
    longest wait, agents available, today's counters), as the user may see them."""
    return View(user).snapshot(live.service.snapshot(), datetime.now(UTC))


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request, user: AnyUser, live: Live) -> StreamingResponse:
    """Server-Sent Events: first `snapshot`, then `agent/state`, `queue/*`, `call/*`,
    `live/link` as they happen (each with an `id:`), a comment every 15 s."""
    return live.events(request, View(user))


@router.get("/reports", response_model=None)
async def reports(
    user: Supervisor,
    live: Live,
    audit: Audit,
    period: Literal["day", "week", "month"] = "day",
    day: Annotated[
        str | None, Query(alias="date", description="a day of the period; default today")
    ] = None,
    format: Literal["json", "xlsx"] = "json",
) -> dict[str, Any] | Response:
    """坐席状态日报 / 周报 / 月报: logged-in, pause by reason, ringing, talk, wrap-up,
    occupancy, answered, rings not answered; per agent and for the team."""
    now = datetime.now(UTC)
    p = Period.parse(period, day or now, live.timezone)
    rows = await live.service.store.rows(p.start_utc, p.end_utc)
    report = summarize(rows, p, now)
    if format == "xlsx":
        ascii_name = f"agent-states-{period}-{p.first}.xlsx"
        await audit(user, AuditAction.EXPORT, detail=ascii_name)
        return download(report_xlsx(report), XLSX, ascii_name, f"{report_title(p)}.xlsx")
    return report_json(report)
