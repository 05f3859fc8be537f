"""Calls, service-level statistics and callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from hotline.api.audit import Action as AuditAction
from hotline.api.deps import (
    AnyUser,
    Audit,
    CallbackRecords,
    Callbacks,
    Calls,
    Rule,
    Supervisor,
    Timezone,
)
from hotline.api.routes.common import PageCursor, Since, Until, own_scope, time_range
from hotline.api.schemas import CallbackOut, CallOut, CallPage, StatsOut, StatsReport
from hotline.api.users import User
from hotline.core.errors import NotFound
from hotline.core.roles import Role
from hotline.telephony.model import Direction, Outcome
from hotline.telephony.store import CallFilter

router = APIRouter(prefix="/api")


def _filter(
    tz: str,
    user: User,
    since: datetime | None,
    until: datetime | None,
    **kw: object,
) -> CallFilter:
    since, until = time_range(tz, since, until)
    return CallFilter(since=since, until=until, only_agent=own_scope(user), **kw)  # type: ignore[arg-type]


@router.get("/calls", response_model=CallPage, tags=["calls"])
async def list_calls(
    user: AnyUser,
    calls: Calls,
    tz: Timezone,
    since: Since = None,
    until: Until = None,
    number: Annotated[str | None, Query(max_length=64, description="caller number or part")] = None,
    agent: Annotated[str | None, Query(max_length=128, description="member or interface")] = None,
    queue: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Outcome | None = None,
    within_rule: bool | None = None,
    direction: Annotated[
        Literal["inbound", "callback", "all"],
        Query(description="customer calls (inbound, the default), callback legs, or all"),
    ] = "inbound",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: PageCursor = None,
) -> CallPage:
    f = _filter(
        tz,
        user,
        since,
        until,
        number=number,
        agent=agent,
        queue=queue,
        outcome=outcome,
        within_rule=within_rule,
        direction=None if direction == "all" else Direction(direction),
    )
    page = await calls.page(f, offset=offset, limit=limit, cursor=cursor)
    items = [CallOut.of(r) for r in page.items]
    return CallPage(
        items=items,
        total=page.total,
        total_capped=page.total_capped,
        offset=offset,
        limit=limit,
        next_cursor=page.next_cursor,
    )


@router.get("/calls/{call_id}", response_model=CallOut, tags=["calls"])
async def get_call(user: AnyUser, calls: Calls, call_id: str) -> CallOut:
    record = await calls.get(call_id)
    mine = record is not None and user.agent in (record.agent_member, record.agent_interface)
    if record is None or not (user.at_least(Role.INSPECTOR) or mine):
        raise NotFound(f"no call {call_id!r} that you may see; search with GET /api/calls")
    return CallOut.of(record)


@router.get("/stats/service-level", response_model=StatsReport, tags=["stats"])
async def service_level(
    user: Supervisor,
    calls: Calls,
    rule: Rule,
    tz: Timezone,
    since: Since = None,
    until: Until = None,
    by: Literal["queue", "agent", "all"] = "queue",
    queue: Annotated[str | None, Query(max_length=128)] = None,
) -> StatsReport:
    f = _filter(tz, user, since, until, queue=queue)
    rows = await calls.stats(f, None if by == "all" else by, zone=ZoneInfo(tz))
    return StatsReport(
        since=f.since,
        until=f.until,
        by=by,
        ring_period_s=rule.period_s,
        max_rings=rule.max_rings,
        rows=[
            StatsOut(
                key=r.key,
                calls=r.calls,
                answered=r.answered,
                within_rule=r.within_rule,
                within_rule_pct=r.within_rule_pct,
                abandoned=r.abandoned,
                abandoned_pct=r.abandoned_pct,
                average_speed_of_answer_s=r.average_speed_of_answer_s,
                callbacks_done=r.callbacks_done,
            )
            for r in rows
        ],
    )


Status = Literal["scheduled", "dialing", "done", "exhausted", "cancelled", "failed"]


@router.get("/callbacks", response_model=list[CallbackOut], tags=["callbacks"])
async def list_callbacks(
    user: Supervisor,
    store: CallbackRecords,
    status: Status | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CallbackOut]:
    found = await store.find(status=status, offset=offset, limit=limit)
    return [CallbackOut.model_validate(cb) for cb in found]


@router.get("/callbacks/{callback_id}", response_model=CallbackOut, tags=["callbacks"])
async def get_callback(user: Supervisor, store: CallbackRecords, callback_id: int) -> CallbackOut:
    cb = await store.get(callback_id)
    if cb is None:
        raise NotFound(f"no callback with id {callback_id}; list them with GET /api/callbacks")
    return CallbackOut.model_validate(cb)


@router.post("/callbacks/{callback_id}/cancel", response_model=CallbackOut, tags=["callbacks"])
async def cancel_callback(
    user: Supervisor, callbacks: Callbacks, audit: Audit, callback_id: int
) -> CallbackOut:
    cb = await callbacks.cancel(callback_id, by=user.name)
    await audit(user, AuditAction.CALLBACK_CANCEL, detail=f"callback={callback_id}")
    return CallbackOut.model_validate(cb)


@router.post("/callbacks/{callback_id}/retrigger", response_model=CallbackOut, tags=["callbacks"])
async def retrigger_callback(
    user: Supervisor, callbacks: Callbacks, audit: Audit, callback_id: int
) -> CallbackOut:
    cb = await callbacks.retrigger(callback_id, by=user.name)
    await audit(user, AuditAction.CALLBACK_RETRIGGER, detail=f"callback={callback_id}")
    return CallbackOut.model_validate(cb)
