"""The agent's workspace: the page that pops the caller (来电弹屏), my tickets and my scores.

Rule: what a page shows is what the API routes give this user, called with the same
dependencies (`api/deps.py`); the live stream only says *that* something happened (a call
connected, a draft made), and the page then asks for it here, through those checks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.audit import Auditor
from hotline.api.deps import (
    AnyUser,
    Calls,
    Quality,
    Supervision,
    Tickets,
    Timezone,
    Transcripts,
    auditor,
)
from hotline.api.quality_schemas import ReasonIn
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import quality as quality_routes
from hotline.api.routes import supervision as supervision_routes
from hotline.api.routes import tickets as tickets_routes
from hotline.api.ticket_schemas import CallerHistoryOut, history_out
from hotline.core.errors import Conflict, InvalidInput
from hotline.core.roles import Role
from hotline.quality.reports import rule_name
from hotline.quality.review import AppealState
from hotline.tickets.model import CATEGORY_LABELS, STATE_LABELS, Category, State
from hotline.web import agent_stream, ticket_pages
from hotline.web.forms import PAGE_SIZE, page_offset, parse_query, query_without
from hotline.web.render import page
from hotline.web.ticket_forms import chinese

router = APIRouter(include_in_schema=False)

OPEN_STATES = frozenset(s.value for s in State if s is not State.CLOSED)
APPEAL_STATES = {
    "open": "申诉中",
    "withdrawn": "已撤销",
    "accepted": "申诉成功",
    "rejected": "已驳回",
}
VERDICTS = {"pending": "待复核", "confirmed": "已确认", "overturned": "已推翻"}


@router.get("/workspace")
async def workspace(request: Request, user: AnyUser, supervision: Supervision) -> Response:
    """The page an agent keeps open: the caller pops in here when a call connects; their
    own state (from the live stream) and 示忙 / 恢复 (posted to the supervision API)."""
    reasons = await supervision_routes.pause_reasons(user, supervision)
    return page(request, "agent/workspace.html", {"pause_reasons": reasons})


@router.get("/workspace/pop/{call_id}")
async def pop(
    request: Request, user: AnyUser, calls: Calls, service: Tickets, call_id: str
) -> Response:
    """The caller of one call of this user's: number, name, earlier calls and open tickets of
    the number, and the call's draft ticket once it is made."""
    call = await calls_routes.get_call(user, calls, call_id)  # the API's 404 for others
    draft = None
    found = await service.store.by_call(call_id)
    if found is not None:
        draft = await tickets_routes.get_ticket(user, service, found.id)
    history = CallerHistoryOut(calls=[], tickets=[])
    if call.caller_number:
        history = history_out(
            await service.store.caller_history(
                call.caller_number,
                exclude_call=call_id,
                exclude_ticket=found.id if found is not None else None,
            )
        )
    open_tickets = [t for t in history.tickets if t.state in OPEN_STATES]
    return page(
        request,
        "agent/pop.html",
        {"call": call, "history": history, "open_tickets": open_tickets, "draft": draft},
    )


class TicketQuery(BaseModel):
    state: State | None = None
    category: Category | None = None
    overdue: bool | None = None
    page: int = Field(1, ge=1, le=100_000)


@router.get("/tickets")
async def my_tickets(request: Request, user: AnyUser, service: Tickets, tz: Timezone) -> Response:
    q, errors = parse_query(request, TicketQuery)
    found = await tickets_routes.list_tickets(
        user,
        service,
        tz,
        state=q.state,
        category=q.category,
        overdue=q.overdue,
        offset=page_offset(q.page),
        limit=PAGE_SIZE,
    )
    context = {
        "q": q,
        "errors": errors,
        "found": found,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "other_params": query_without(request, "page"),
        "states": {s.value: label for s, label in STATE_LABELS.items()},
        "categories": {c.value: label for c, label in CATEGORY_LABELS.items()},
        "is_agent": not user.at_least(Role.INSPECTOR),
    }
    return page(request, "agent/tickets.html", context)


async def _scores_context(
    user: AnyUser,
    store: Quality,
    transcripts: Transcripts,
    tz: Timezone,
    audit: Auditor,
    call_id: str | None = None,
) -> dict[str, object]:
    scores = await quality_routes.list_scores(user, store, tz, limit=100)
    appeals = await quality_routes.list_appeals(user, store, limit=100)
    detail = None
    if call_id:  # the API's 404 for a call that is not theirs
        detail = await quality_routes.get_score(user, store, transcripts, audit, call_id)
    return {
        "scores": scores,
        "appeals": appeals,
        "open_appeals": {a.hit_id: a for a in appeals if a.state == AppealState.OPEN.value},
        "detail": detail,
        "appeal_states": APPEAL_STATES,
        "verdicts": VERDICTS,
        "rule_name": rule_name,
        "can_appeal": user.agent is not None,  # the API's rule: the agent who answered
        "is_agent": not user.at_least(Role.INSPECTOR),
    }


@router.get("/my/quality")
async def my_quality(
    request: Request, user: AnyUser, store: Quality, transcripts: Transcripts, tz: Timezone
) -> Response:
    """My scores, with the rule hits of each and my appeals (发起申诉 / 撤销申诉)."""
    return page(
        request,
        "agent/scores.html",
        await _scores_context(user, store, transcripts, tz, auditor(request)),
    )


@router.get("/my/quality/{call_id}")
async def my_call_quality(
    request: Request,
    user: AnyUser,
    store: Quality,
    transcripts: Transcripts,
    tz: Timezone,
    call_id: str,
) -> Response:
    context = await _scores_context(user, store, transcripts, tz, auditor(request), call_id)
    return page(request, "agent/scores.html", context)


def _refused(exc: Conflict | InvalidInput, status: int) -> HTTPException:
    return HTTPException(status, detail={"error": exc.error_id, "message": chinese(exc.message)})


@router.post("/my/quality/{call_id}/hits/{hit_id}/appeal")
async def appeal(
    request: Request,
    user: AnyUser,
    store: Quality,
    transcripts: Transcripts,
    tz: Timezone,
    call_id: str,
    hit_id: int,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not reason:
        errors[f"reason-{hit_id}"] = "请写明申诉理由：为什么这条扣分不成立"
    elif len(reason) > 2000:
        errors[f"reason-{hit_id}"] = "申诉理由过长，请控制在 2000 字以内"
    else:
        try:
            await quality_routes.appeal(user, store, call_id, hit_id, ReasonIn(reason=reason))
        except (Conflict, InvalidInput) as exc:
            errors[f"reason-{hit_id}"] = chinese(exc.message)
    context = await _scores_context(user, store, transcripts, tz, auditor(request), call_id)
    context["errors"] = errors
    context["message"] = None if errors else "申诉已提交，等待质检员处理"
    status = 422 if errors else 200
    return page(request, "agent/score_detail.html", context, status_code=status)


@router.post("/my/quality/{call_id}/appeals/{appeal_id}/withdraw")
async def withdraw(
    request: Request,
    user: AnyUser,
    store: Quality,
    transcripts: Transcripts,
    tz: Timezone,
    call_id: str,
    appeal_id: int,
) -> Response:
    try:  # the store lets only the one who appealed withdraw it
        await quality_routes.withdraw(user, store, appeal_id)
    except Conflict as exc:
        raise _refused(exc, 409) from None
    context = await _scores_context(user, store, transcripts, tz, auditor(request), call_id)
    context["message"] = "申诉已撤销"
    return page(request, "agent/score_detail.html", context)


# the workspace's other pages and its stream: installed with this router
router.include_router(ticket_pages.router)
router.include_router(agent_stream.router)
