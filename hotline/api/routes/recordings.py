"""Recordings: search, metadata, audio, the audit log, retention and holds.

Rule: URLs carry recording ids, never paths; what a user may see is checked here, the
file and its audited sending are api/playback.py's (and recording/playback.py's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from hotline.api import playback
from hotline.api.deps import (
    Admin,
    AnyUser,
    ArchiveRoot,
    Recordings,
    Settings,
    Supervisor,
    Tickets,
    Timezone,
    Transcripts,
    Wiring,
)
from hotline.api.recording_schemas import (
    AuditOut,
    AuditPage,
    HoldIn,
    ImportantIn,
    PurgeItemOut,
    PurgeReport,
    RecordingOut,
    RecordingPage,
    RetentionIn,
)
from hotline.api.routes.common import (
    PageCursor,
    Since,
    Until,
    local,
    may_see,
    own_scope,
    time_range,
)
from hotline.api.stages import retry_recording
from hotline.api.users import User
from hotline.core import paging
from hotline.core.errors import NotFound, Unavailable
from hotline.recording import peaks, retention
from hotline.recording import playback as rec_playback
from hotline.recording.audio import AudioError
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import Recording, RecordingFilter, RecordingStore, Status

router = APIRouter(prefix="/api")


async def _visible(store: RecordingStore, user: User, recording_id: int) -> Recording:
    r = await store.get(recording_id)
    if r is None or not await may_see(store, user, r):
        raise NotFound(
            f"没有编号为 {recording_id} 的录音，或你无权查看 "
            f"(no recording {recording_id} that you may see; search with GET /api/recordings)"
        )
    return r


# --- search and metadata --------------------------------------------------------------------


@router.get("/recordings", response_model=RecordingPage, tags=["recordings"])
async def search_recordings(
    user: AnyUser,
    store: Recordings,
    tickets: Tickets,
    tz: Timezone,
    since: Since = None,
    until: Until = None,
    number: Annotated[str | None, Query(max_length=64, description="caller number or part")] = None,
    agent: Annotated[str | None, Query(max_length=128, description="member or interface")] = None,
    queue: Annotated[str | None, Query(max_length=128)] = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    ticket: Annotated[int | None, Query(description="the 工单 id: its call's recording")] = None,
    min_duration_s: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    status: Status | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: PageCursor = None,
) -> RecordingPage:
    since, until = time_range(tz, since, until)
    own = own_scope(user)
    if ticket is not None:
        found_ticket = await tickets.store.get(ticket)
        ticket_call = found_ticket.ticket.call_id if found_ticket is not None else None
        if ticket_call is None or (call_id is not None and call_id != ticket_call):
            return RecordingPage(items=[], total=0, offset=offset, limit=limit)
        call_id = ticket_call
    f = RecordingFilter(
        since=since,
        until=until,
        number=number,
        agent=agent,
        queue=queue,
        call_id=call_id,
        min_duration_s=min_duration_s,
        status=status,
        only_agent=own,
    )
    page = await store.page(f, offset=offset, limit=limit, cursor=cursor)
    items = [RecordingOut.model_validate(r) for r in page.items]
    return RecordingPage(
        items=items,
        total=page.total,
        total_capped=page.total_capped,
        offset=offset,
        limit=limit,
        next_cursor=page.next_cursor,
    )


@router.get("/recordings/{recording_id}", response_model=RecordingOut, tags=["recordings"])
async def get_recording(user: AnyUser, store: Recordings, recording_id: int) -> RecordingOut:
    return RecordingOut.model_validate(await _visible(store, user, recording_id))


@router.get("/calls/{call_id}/recording", response_model=RecordingOut, tags=["recordings"])
async def get_call_recording(user: AnyUser, store: Recordings, call_id: str) -> RecordingOut:
    r = await store.by_call(call_id)
    if r is None or not await may_see(store, user, r):
        raise NotFound(
            f"通话 {call_id} 没有你可以查看的录音 (no recording of call {call_id!r} that you "
            "may see; search with GET /api/recordings)"
        )
    return RecordingOut.model_validate(r)


# --- audio ----------------------------------------------------------------------------------


@router.head("/recordings/{recording_id}/audio", include_in_schema=False)
@router.get(
    "/recordings/{recording_id}/audio",
    response_class=FileResponse,
    tags=["recordings"],
    responses={
        206: {"description": "the requested byte range"},
        409: {"description": "not archived (pending, failed or purged)"},
        416: {"description": "the range lies beyond the end of the file"},
    },
)
async def recording_audio(
    request: Request,
    user: AnyUser,
    store: Recordings,
    root: ArchiveRoot,
    tz: Timezone,
    recording_id: int,
    fmt: Annotated[
        Literal["archived", "wav"],
        Query(alias="format", description="archived (as stored) or wav (decoded on request)"),
    ] = "archived",
    download: Annotated[bool, Query(description="as an attachment with a file name")] = False,
) -> playback.AuditedFileResponse:
    """The audio, with HTTP Range (browser players seek with it). Every GET that sends
    audio is written to the audit log (action play or download)."""
    r = await _visible(store, user, recording_id)
    return await playback.audio_response(
        request,
        r,
        actor=user.name,
        store=store,
        root=root,
        timezone=tz,
        fmt=fmt,
        download=download,
    )


# --- waveform peaks (review branch) ---------------------------------------------------------


@router.get(
    "/recordings/{recording_id}/peaks",
    response_class=FileResponse,
    tags=["recordings"],
    responses={
        200: {"description": "{duration, sample_rate, channels: [[min, max, …], …], …}"},
        409: {"description": "not archived (pending, failed or purged)"},
    },
)
async def recording_peaks(
    user: AnyUser, store: Recordings, root: ArchiveRoot, recording_id: int
) -> FileResponse:
    """Per-channel min/max peaks for drawing the waveform (customer, agent; or mixed), made
    once per archived file; no audio, so not in the audit log."""
    r = await _visible(store, user, recording_id)
    rec_playback.archived_file(root, r)  # the same answers as the audio when there is none
    try:
        path = await peaks.ensure_peaks(root, r)
    except AudioError as exc:
        raise Unavailable(
            f"无法生成波形，录音仍可播放 (could not draw the waveform of recording {r.id}: "
            f"{exc.message}; the audio itself may still play)",
            error_id="peaks_unavailable",
        ) from exc
    return FileResponse(
        path,
        media_type="application/json",
        headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"},
    )


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit", response_model=AuditPage, tags=["recordings"])
async def audit_log(
    user: Admin,
    store: Recordings,
    tz: Timezone,
    recording_id: int | None = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32, description="play, download…")] = None,
    since: Since = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: PageCursor = None,
) -> AuditPage:
    entries = await store.audit_log(
        recording_id=recording_id,
        actor=actor,
        action=action,
        since=local(tz, since),
        offset=offset,
        limit=limit,
        cursor=cursor,
    )
    last = entries[-1] if len(entries) == limit else None
    return AuditPage(
        items=[AuditOut.model_validate(e) for e in entries],
        offset=offset,
        limit=limit,
        next_cursor=paging.Cursor(last.at, str(last.id)).encode() if last else None,
    )


# --- retention, holds, retry ----------------------------------------------------------------


@router.put("/recordings/{recording_id}/hold", response_model=RecordingOut, tags=["recordings"])
async def put_hold(user: Admin, store: Recordings, recording_id: int, body: HoldIn) -> RecordingOut:
    r = await retention.set_hold(
        store, recording_id, body.hold, body.reason, user.name, datetime.now(UTC)
    )
    return RecordingOut.model_validate(r)


@router.put(
    "/recordings/{recording_id}/important", response_model=RecordingOut, tags=["recordings"]
)
async def put_important(
    user: Admin, store: Recordings, settings: Settings, recording_id: int, body: ImportantIn
) -> RecordingOut:
    s = settings.recording
    policy = RetentionPolicy(s.retention_days, s.important_retention_days)
    r = await retention.set_important(
        store, recording_id, body.important, user.name, datetime.now(UTC), policy
    )
    return RecordingOut.model_validate(r)


@router.put(
    "/recordings/{recording_id}/retention", response_model=RecordingOut, tags=["recordings"]
)
async def put_retention(
    user: Admin, store: Recordings, tz: Timezone, recording_id: int, body: RetentionIn
) -> RecordingOut:
    until = local(tz, body.until)
    assert until is not None
    r = await retention.set_retention(store, recording_id, until, user.name, datetime.now(UTC))
    return RecordingOut.model_validate(r)


@router.post("/recordings/purge", response_model=PurgeReport, tags=["recordings"])
async def post_purge(
    user: Admin,
    store: Recordings,
    root: ArchiveRoot,
    tz: Timezone,
    transcripts: Transcripts,
    dry_run: Annotated[
        bool, Query(description="true (the default): only list what would be deleted")
    ] = True,
) -> PurgeReport:
    items = await retention.purge(
        store,
        root,
        now=datetime.now(UTC),
        dry_run=dry_run,
        actor=user.name,
        timezone=tz,
        on_purged=transcripts.delete,
    )
    out = [PurgeItemOut.model_validate(i) for i in items]
    return PurgeReport(dry_run=dry_run, count=len(out), items=out)


@router.post("/recordings/{recording_id}/retry", response_model=RecordingOut, tags=["recordings"])
async def post_retry(user: Supervisor, wiring: Wiring, recording_id: int) -> RecordingOut:
    r = await retry_recording(wiring, recording_id, user.name)
    return RecordingOut.model_validate(r)
