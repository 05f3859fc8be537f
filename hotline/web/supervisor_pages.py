"""Supervisor pages: callbacks (回呼: cancel, retrigger) and the tickets needing attention
(overdue, urgent). Rule: every read and every action is the API's own route function with
the same dependencies (`hotline/api/routes/calls.py`, `tickets.py`), so who may do what is
written once, there; this module only arranges what they return.

A repeated click is harmless: cancelling a cancelled callback, or retriggering one that is
already scheduled again, redraws its row instead of acting twice.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from hotline.api.deps import CallbackRecords, Callbacks, Supervisor, Tickets, Timezone, auditor
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import tickets as tickets_routes
from hotline.api.schemas import CallbackOut
from hotline.api.ticket_schemas import TicketOut
from hotline.tickets.model import State
from hotline.tickets.sla import STEP_LABELS
from hotline.web.forms import parse_query
from hotline.web.render import page

router = APIRouter(include_in_schema=False)

CALLBACK_STATUS = {
    "scheduled": "已排期",
    "dialing": "正在呼叫",
    "done": "已完成",
    "exhausted": "已用尽重试次数",
    "cancelled": "已取消",
    "failed": "已失败",
}
CALLBACK_REASONS = {"abandoned": "排队放弃", "no_agent": "无人接听", "dropped": "通话中断线"}
# how far an attempt got, in order (telephony.callbacks.AttemptStage)
ATTEMPT_STAGES = {
    "originated": "已发起呼叫",
    "customer_answered": "客户已接听",
    "reached_context": "已进入回呼流程",
    "queued": "已进入队列",
    "agent_connected": "已接通坐席",
}
CANCELLABLE = frozenset({"scheduled", "dialing"})
RETRIGGERABLE = frozenset({"done", "exhausted", "cancelled", "failed"})
LABELS: dict[str, Any] = {
    "statuses": CALLBACK_STATUS,
    "reasons": CALLBACK_REASONS,
    "cancellable": CANCELLABLE,
    "retriggerable": RETRIGGERABLE,
    "stages": ATTEMPT_STAGES,
    "stage_order": list(ATTEMPT_STAGES),
}


class CallbackQuery(BaseModel):
    status: Literal["scheduled", "dialing", "done", "exhausted", "cancelled", "failed"] | None = (
        None
    )


@router.get("/callbacks")
async def callbacks_page(request: Request, user: Supervisor, store: CallbackRecords) -> Response:
    q, errors = parse_query(request, CallbackQuery)
    items = await calls_routes.list_callbacks(user, store, status=q.status, limit=200)
    context: dict[str, Any] = {"q": q, "errors": errors, "items": items, **LABELS}
    return page(request, "supervisor/callbacks.html", context)


def _row(request: Request, cb: CallbackOut, message: str = "") -> Response:
    """One row of the table, redrawn in place by htmx after an action."""
    context = {"cb": cb, "message": message, **LABELS}
    return page(request, "supervisor/callback_row.html", context)


@router.post("/callbacks/{callback_id}/cancel")
async def cancel(
    request: Request,
    user: Supervisor,
    store: CallbackRecords,
    callbacks: Callbacks,
    callback_id: int,
) -> Response:
    """取消: a scheduled or dialling callback is not called (again)."""
    cb = await calls_routes.get_callback(user, store, callback_id)
    if cb.status == "cancelled":
        return _row(request, cb, "已取消")  # a second click
    cb = await calls_routes.cancel_callback(user, callbacks, auditor(request), callback_id)
    return _row(request, cb, "已取消")


@router.post("/callbacks/{callback_id}/retrigger")
async def retrigger(
    request: Request,
    user: Supervisor,
    store: CallbackRecords,
    callbacks: Callbacks,
    callback_id: int,
) -> Response:
    """重新回呼: a finished callback is scheduled again with its attempts anew."""
    cb = await calls_routes.get_callback(user, store, callback_id)
    if cb.status not in RETRIGGERABLE:
        return _row(request, cb, "已重新排期")  # a second click: already scheduled
    cb = await calls_routes.retrigger_callback(user, callbacks, auditor(request), callback_id)
    return _row(request, cb, "已重新排期")


# --- tickets needing attention ---------------------------------------------------------------


def _open(items: list[TicketOut]) -> list[TicketOut]:
    return [t for t in items if t.state != State.CLOSED.value]


@router.get("/attention")
async def attention(request: Request, user: Supervisor, service: Tickets, tz: Timezone) -> Response:
    """需关注工单: urgent ones not yet closed, then every overdue one, most recent first."""
    urgent = await tickets_routes.list_tickets(user, service, tz, urgent=True, limit=200)
    overdue = await tickets_routes.list_tickets(user, service, tz, overdue=True, limit=200)
    context: dict[str, Any] = {
        "urgent": _open(urgent.items),
        "overdue": overdue.items,
        "overdue_total": overdue.total,
        "steps": STEP_LABELS,
    }
    return page(request, "supervisor/attention.html", context)
