"""Records staff: recording search (by number, agent, time, queue, ticket and spoken words),
one recording with its player, download, legal hold, important and retention, and the
audit log. Rule: every read and every change goes through the API route that does the
same, so its permission check, its audit entry and its errors are the API's own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.audit import Auditor
from hotline.api.deps import (
    Admin,
    AnyUser,
    Recordings,
    Settings,
    Tickets,
    Timezone,
    Transcripts,
    auditor,
)
from hotline.api.recording_schemas import HoldIn, ImportantIn, RecordingOut, RetentionIn
from hotline.api.routes import recordings as recordings_routes
from hotline.api.routes import transcripts as transcripts_routes
from hotline.api.users import User
from hotline.asr.store import TranscriptStore
from hotline.core.errors import HotlineError, InvalidInput, NotFound
from hotline.recording.store import RecordingStore, Status
from hotline.web.forms import PAGE_SIZE, page_offset, parse_query, query_without
from hotline.web.render import page

router = APIRouter(include_in_schema=False)
AUDIT_PAGE_SIZE = 100


class RecordingQuery(BaseModel):
    q: str | None = Field(None, max_length=200)
    number: str | None = Field(None, max_length=64)
    agent: str | None = Field(None, max_length=128)
    queue: str | None = Field(None, max_length=128)
    ticket: int | None = Field(None, ge=1)
    status: Status | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = Field(1, ge=1, le=100_000)


@router.get("/recordings")
async def recordings_search(
    request: Request,
    user: AnyUser,
    recordings: Recordings,
    transcripts: Transcripts,
    tickets: Tickets,
    tz: Timezone,
) -> Response:
    q, errors = parse_query(request, RecordingQuery)
    context: dict[str, object] = {
        "q": q,
        "errors": errors,
        "found": None,
        "hits": None,
        "ignored": [],
        "other_params": query_without(request, "page"),
        "pages": 1,
    }
    try:
        if q.q:
            # the transcript search filters by time and agent; the other fields do not apply
            context["ignored"] = [
                name
                for name, value in (("号码", q.number), ("队列", q.queue), ("工单", q.ticket))
                if value
            ]
            context["hits"] = await transcripts_routes.search_transcripts(
                user,
                transcripts,
                auditor(request),
                tz,
                q=q.q,
                since=q.since,
                until=q.until,
                agent=q.agent,
                offset=page_offset(q.page),
                limit=PAGE_SIZE,
            )
        else:
            found = await recordings_routes.search_recordings(
                user,
                recordings,
                tickets,
                tz,
                since=q.since,
                until=q.until,
                number=q.number,
                agent=q.agent,
                queue=q.queue,
                ticket=q.ticket,
                status=q.status,
                offset=page_offset(q.page),
                limit=PAGE_SIZE,
            )
            context["found"] = found
            context["pages"] = max(1, -(-found.total // PAGE_SIZE))
    except InvalidInput:
        errors["until"] = "结束时间须晚于开始时间"
    return page(request, "recordings.html", context)


async def _transcript(
    user: User,
    recordings: RecordingStore,
    transcripts: TranscriptStore,
    audit: Auditor,
    recording_id: int,
) -> object | None:
    try:
        return await transcripts_routes.recording_transcript(
            user, recordings, transcripts, audit, recording_id
        )
    except NotFound:
        return None


@router.get("/recordings/{recording_id}")
async def recording_page(
    request: Request,
    user: AnyUser,
    recordings: Recordings,
    transcripts: Transcripts,
    recording_id: int,
) -> Response:
    recording = await recordings_routes.get_recording(user, recordings, recording_id)
    return page(
        request,
        "recording.html",
        {
            "r": recording,
            "transcript": await _transcript(
                user, recordings, transcripts, auditor(request), recording_id
            ),
            "message": None,
            "errors": {},
        },
    )


def _retention_panel(
    request: Request,
    r: RecordingOut,
    *,
    message: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return page(
        request,
        "partials/retention.html",
        {"r": r, "message": message, "errors": errors or {}},
        status_code=200 if not errors else 422,
    )


async def _after(
    request: Request,
    user: User,
    recordings: RecordingStore,
    recording_id: int,
    field: str,
    error: HotlineError,
) -> Response:
    r = await recordings_routes.get_recording(user, recordings, recording_id)
    return _retention_panel(request, r, errors={field: error.message})


@router.post("/recordings/{recording_id}/hold")
async def post_hold(
    request: Request,
    user: Admin,
    recordings: Recordings,
    recording_id: int,
    hold: Annotated[bool, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        r = await recordings_routes.put_hold(
            user, recordings, recording_id, HoldIn(hold=hold, reason=reason or None)
        )
    except InvalidInput as exc:
        return await _after(request, user, recordings, recording_id, "reason", exc)
    return _retention_panel(request, r, message="已设置法律保全" if hold else "已解除法律保全")


@router.post("/recordings/{recording_id}/important")
async def post_important(
    request: Request,
    user: Admin,
    recordings: Recordings,
    settings: Settings,
    recording_id: int,
    important: Annotated[bool, Form()],
) -> Response:
    r = await recordings_routes.put_important(
        user, recordings, settings, recording_id, ImportantIn(important=important)
    )
    return _retention_panel(
        request, r, message="已标记为重要录音" if important else "已取消重要标记"
    )


@router.post("/recordings/{recording_id}/retention")
async def post_retention(
    request: Request,
    user: Admin,
    recordings: Recordings,
    tz: Timezone,
    recording_id: int,
    until: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        when = datetime.fromisoformat(until.strip())
    except ValueError:
        return await _after(
            request,
            user,
            recordings,
            recording_id,
            "until",
            InvalidInput("请输入正确的日期，例如 2030-12-31 00:00"),
        )
    try:
        r = await recordings_routes.put_retention(
            user, recordings, tz, recording_id, RetentionIn(until=when)
        )
    except InvalidInput as exc:
        return await _after(request, user, recordings, recording_id, "until", exc)
    return _retention_panel(request, r, message="已修改保存期限")


class AuditQuery(BaseModel):
    actor: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=32)
    recording_id: int | None = Field(None, ge=1)
    since: datetime | None = None
    page: int = Field(1, ge=1, le=100_000)


@router.get("/audit")
async def audit_page(
    request: Request, user: Admin, recordings: Recordings, tz: Timezone
) -> Response:
    q, errors = parse_query(request, AuditQuery)
    found = await recordings_routes.audit_log(
        user,
        recordings,
        tz,
        recording_id=q.recording_id,
        actor=q.actor,
        action=q.action,
        since=q.since,
        offset=(q.page - 1) * AUDIT_PAGE_SIZE,
        limit=AUDIT_PAGE_SIZE,
    )
    return page(
        request,
        "audit.html",
        {
            "q": q,
            "errors": errors,
            "found": found,
            "other_params": query_without(request, "page"),
            "has_more": len(found.items) == AUDIT_PAGE_SIZE,
        },
    )
