"""Calls: the list with its filters and one call's page. Rule: what a user may see is what
GET /api/calls and GET /api/calls/{id} give them; an agent typing another agent's call
into the address bar gets the API's own 404."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.deps import AnyUser, Calls, Recordings, Timezone, Transcripts, auditor
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import recordings as recordings_routes
from hotline.api.routes import transcripts as transcripts_routes
from hotline.api.schemas import CallPage
from hotline.core.errors import InvalidInput, NotFound
from hotline.telephony.model import Outcome
from hotline.web.forms import PAGE_SIZE, page_offset, parse_query, query_without
from hotline.web.render import page

router = APIRouter(include_in_schema=False)


class CallQuery(BaseModel):
    number: str | None = Field(None, max_length=64)
    agent: str | None = Field(None, max_length=128)
    queue: str | None = Field(None, max_length=128)
    outcome: Outcome | None = None
    within_rule: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = Field(1, ge=1, le=100_000)


@router.get("/calls")
async def calls_list(request: Request, user: AnyUser, calls: Calls, tz: Timezone) -> Response:
    q, errors = parse_query(request, CallQuery)
    found = CallPage(items=[], total=0, offset=0, limit=PAGE_SIZE)
    try:
        found = await calls_routes.list_calls(
            user,
            calls,
            tz,
            since=q.since,
            until=q.until,
            number=q.number,
            agent=q.agent,
            queue=q.queue,
            outcome=q.outcome,
            within_rule=q.within_rule,
            offset=page_offset(q.page),
            limit=PAGE_SIZE,
        )
    except InvalidInput:
        errors["until"] = "结束时间须晚于开始时间"
    context = {
        "q": q,
        "errors": errors,
        "found": found,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "other_params": query_without(request, "page"),
    }
    template = (
        "partials/calls_table.html"
        if request.headers.get("hx-target") == "calls-result"
        else "calls.html"
    )
    return page(request, template, context)


@router.get("/calls/{call_id}")
async def call_page(
    request: Request,
    user: AnyUser,
    calls: Calls,
    recordings: Recordings,
    transcripts: Transcripts,
    call_id: str,
) -> Response:
    call = await calls_routes.get_call(user, calls, call_id)  # the API's 404 for others
    recording = None
    transcript = None
    try:
        recording = await recordings_routes.get_call_recording(user, recordings, call_id)
        transcript = await transcripts_routes.call_transcript(
            user, recordings, transcripts, auditor(request), call_id
        )
    except NotFound:
        pass
    return page(
        request, "call.html", {"call": call, "recording": recording, "transcript": transcript}
    )
