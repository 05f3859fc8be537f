"""The agent's desk in the browser (issue 16): the caller's file, identity check, notices
and suggested answers on the workspace's pop, and the pages for the knowledge base, the
notices and the customer file. Rule: every handler calls the API's route function with the
same dependencies, so who may see or do what is decided once, in api/routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from starlette.responses import Response

from hotline.api.deps import (
    AnyUser,
    Audit,
    Calls,
    Desk,
    Recordings,
    Supervisor,
    Tickets,
    Transcripts,
)
from hotline.api.desk_schemas import IdentityIn, LinkIn, NoticeIn
from hotline.api.routes import customers as customers_routes
from hotline.api.routes import knowledge as knowledge_routes
from hotline.core.errors import HotlineError, InvalidInput
from hotline.core.roles import Role
from hotline.customers.importer import ImportStatus
from hotline.knowledge.notices import KIND_LABELS, NoticeKind
from hotline.web.render import page, timezone

router = APIRouter(include_in_schema=False)


@dataclass
class Pop:
    """What the pop's customer panel reads, as one dependency (the same ones the API's
    route functions take)."""

    user: AnyUser
    calls: Calls
    desk: Desk
    recordings: Recordings
    transcripts: Transcripts
    tickets: Tickets
    audit: Audit


PopDeps = Annotated[Pop, Depends()]


async def _call_customer(
    request: Request,
    p: Pop,
    call_id: str,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    state = await customers_routes.call_customer(
        p.user, p.calls, p.desk, p.recordings, p.transcripts, call_id
    )
    account = None
    if state.verified:
        account = await customers_routes.call_account(
            p.user, p.calls, p.desk, p.tickets, p.audit, call_id
        )
    suggestions = await knowledge_routes.call_suggestions(
        p.user, p.calls, p.desk, p.recordings, p.transcripts, call_id
    )
    return page(
        request,
        "desk/call_customer.html",
        {
            "state": state,
            "account": account,
            "suggestions": suggestions,
            "message": message,
            "error": error,
        },
    )


@router.get("/workspace/pop/{call_id}/customer")
async def call_customer(
    request: Request,
    pop: PopDeps,
    call_id: str,
) -> Response:
    """The caller's file on the pop: notices first, then who it is and the check."""
    return await _call_customer(request, pop, call_id)


@router.post("/workspace/pop/{call_id}/customer")
async def link_customer(
    request: Request,
    pop: PopDeps,
    call_id: str,
    customer_id: Annotated[str, Form()] = "",
) -> Response:
    chosen = int(customer_id) if customer_id.isdigit() else None
    await customers_routes.link_customer(
        pop.user, pop.calls, pop.desk, call_id, LinkIn(customer_id=chosen)
    )
    message = "已确认来电客户" if chosen else "已记录：来电人不在客户档案中"
    return await _call_customer(request, pop, call_id, message)


@router.post("/workspace/pop/{call_id}/identity")
async def check_identity(
    request: Request,
    pop: PopDeps,
    call_id: str,
    confirmed: Annotated[list[str] | None, Form()] = None,
    outcome: Annotated[str, Form()] = "checked",
) -> Response:
    body = IdentityIn(confirmed=confirmed or [], could_not=outcome == "could_not")
    message = error = None
    try:
        check = await customers_routes.check_identity(
            pop.user, pop.calls, pop.desk, pop.audit, call_id, body
        )
        message = (
            "身份核实通过，已显示账户信息"
            if check.passed
            else "已记录：身份未能核实，不能透露账户信息"
        )
    except InvalidInput as exc:
        error = exc.message
    return await _call_customer(request, pop, call_id, message, error)


@router.get("/workspace/notices")
async def notices_in_force(request: Request, user: AnyUser, desk: Desk) -> Response:
    """The notices in force, for the top of the workspace."""
    notices = await knowledge_routes.list_notices(user, desk)
    return page(request, "desk/notices_in_force.html", {"notices": notices})


# --- 知识库 ----------------------------------------------------------------------------------


@router.get("/workspace/knowledge")
async def knowledge_on_pop(
    request: Request,
    user: AnyUser,
    desk: Desk,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """What the agent types during the call (the customer's words): the answers, inline."""
    found = await knowledge_routes.search_articles(user, desk, q) if q.strip() else []
    return page(request, "desk/knowledge_hits.html", {"q": q, "found": found})


@router.get("/knowledge")
async def knowledge_page(
    request: Request,
    user: AnyUser,
    desk: Desk,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    found = None
    if q.strip():
        found = await knowledge_routes.search_articles(user, desk, q)
    articles = await knowledge_routes.list_articles(user, desk)
    return page(request, "desk/knowledge.html", {"q": q, "found": found, "articles": articles})


# --- 通知 ------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace("，", ",").replace(",", "\n").splitlines() if x.strip()]


@router.get("/notices")
async def notices_page(request: Request, user: AnyUser, desk: Desk) -> Response:
    return await _notices(request, user, desk)


async def _notices(
    request: Request,
    user: AnyUser,
    desk: Desk,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    in_force = await knowledge_routes.list_notices(user, desk)
    history = []
    if user.at_least(Role.SUPERVISOR):
        history = await knowledge_routes.list_notices(user, desk, history=True)
    return page(
        request,
        "desk/notices.html",
        {
            "in_force": in_force,
            "history": history,
            "can_publish": user.at_least(Role.SUPERVISOR),
            "kinds": KIND_LABELS,
            "message": message,
            "error": error,
        },
        status_code=status_code,
    )


@router.post("/notices")
async def publish_notice(
    request: Request,
    user: Supervisor,
    desk: Desk,
    kind: Annotated[NoticeKind, Form()],
    title: Annotated[str, Form(max_length=200)],
    wording: Annotated[str, Form(max_length=4000)],
    ends_at: Annotated[str, Form()] = "",
    districts: Annotated[str, Form()] = "",
    streets: Annotated[str, Form()] = "",
    accounts: Annotated[str, Form()] = "",
    allow_no_customers: Annotated[bool, Form()] = False,
) -> Response:
    try:
        body = NoticeIn.model_validate(
            {
                "kind": kind,
                "title": title,
                "wording": wording,
                "districts": _lines(districts),
                "streets": _lines(streets),
                "accounts": _lines(accounts),
                "ends_at": _local_time(request, ends_at),
                "allow_no_customers": allow_no_customers,
            }
        )
        n = await knowledge_routes.publish_notice(user, desk, body)
    except HotlineError as exc:
        return await _notices(request, user, desk, error=exc.message, status_code=422)
    except ValueError as exc:
        return await _notices(request, user, desk, error=f"输入有误：{exc}", status_code=422)
    note = f"通知已发布，影响 {n.affected} 户" + (
        "；" + "；".join(n.warnings) if n.warnings else ""
    )
    return await _notices(request, user, desk, message=note)


def _local_time(request: Request, value: str) -> str | None:
    """A datetime-local form value (the hotline's local time) as ISO with its zone."""
    if not value.strip():
        return None
    return datetime.fromisoformat(value).replace(tzinfo=timezone(request)).isoformat()


# --- 客户档案 --------------------------------------------------------------------------------


@router.get("/customers")
async def customers_page(
    request: Request,
    user: Supervisor,
    desk: Desk,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = await customers_routes.find_customers(user, desk, q) if q.strip() else None
    jobs = await customers_routes.list_imports(user, desk)
    return page(request, "desk/customers.html", {"q": q, "found": found, "jobs": jobs})


@router.post("/customers/imports")
async def upload_import(
    request: Request, user: Supervisor, desk: Desk, file: UploadFile
) -> Response:
    error = None
    try:
        await customers_routes.start_import(user, desk, file)
    except InvalidInput as exc:
        error = exc.message
    jobs = await customers_routes.list_imports(user, desk)
    return page(
        request,
        "desk/customers.html",
        {"q": "", "found": None, "jobs": jobs, "error": error},
        status_code=422 if error else 200,
    )


@router.get("/customers/imports/{import_id}")
async def import_progress(
    request: Request, user: Supervisor, desk: Desk, import_id: int
) -> Response:
    job = await customers_routes.get_import(user, desk, import_id)
    rejects = await customers_routes.import_rejects(user, desk, import_id, limit=200)
    running = job.status == ImportStatus.RUNNING.value
    return page(
        request, "desk/import_row.html", {"job": job, "rejects": rejects, "running": running}
    )
