"""Recordings: search, metadata, audio with Range, the audit log, retention and holds.

Rule: a file is only ever found from its recording's row, through `inside()` the archive
root (URLs carry ids, never paths), and every response that sends audio to someone writes
an audit entry first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import uuid4
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from hotline.api.auth import Admin, AnyUser, Supervisor
from hotline.api.pipeline import retry_recording
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
from hotline.api.routes.common import Since, Until, local, may_see, own_scope, time_range
from hotline.api.users import User
from hotline.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from hotline.recording import audio, peaks, retention
from hotline.recording.policy import RetentionPolicy, inside
from hotline.recording.store import Recording, RecordingFilter, RecordingStore, Status

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

MEDIA_TYPES = {
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
}
_converting: weakref.WeakValueDictionary[Path, asyncio.Lock] = weakref.WeakValueDictionary()


def _store(request: Request) -> RecordingStore:
    store: RecordingStore = request.app.state.container.recordings
    return store


def _root(request: Request) -> Path:
    root: Path = request.app.state.container.archive_root
    return root


def _timezone(request: Request) -> str:
    tz: str = request.app.state.container.settings.timezone
    return tz


async def _visible(request: Request, user: User, recording_id: int) -> Recording:
    r = await _store(request).get(recording_id)
    if r is None or not await may_see(request, user, r):
        raise NotFound(
            f"没有编号为 {recording_id} 的录音，或你无权查看 "
            f"(no recording {recording_id} that you may see; search with GET /api/recordings)"
        )
    return r


def _archived_file(root: Path, r: Recording) -> Path:
    """The archived file of `r`, or an error a person understands."""
    if r.status is Status.PENDING:
        raise Conflict(
            f"录音尚未归档，请稍后再试 (recording {r.id} is not archived yet: the switch may "
            "still be writing it or it waits for transcoding; try again in a minute)",
            error_id="recording_pending",
        )
    if r.status is Status.FAILED:
        raise Conflict(
            f"录音归档失败：{r.reason or '原因未知'}；主管可以重试 (archiving recording {r.id} "
            f"failed: {r.reason or 'no reason recorded'}; a supervisor can retry it with "
            f"POST /api/recordings/{r.id}/retry)",
            error_id="recording_failed",
        )
    if r.status is Status.PURGED:
        raise Conflict(
            f"录音已按保存期限清除 (recording {r.id} was purged by retention; "
            "the audit log says when and why)",
            error_id="recording_purged",
        )
    try:
        full = inside(root, r.path or "")
    except InvalidInput:
        log.error("recording %s: stored path %r is not inside the archive; refused", r.id, r.path)
        raise Conflict(
            f"录音 {r.id} 的存储路径不在归档目录内，已拒绝 (the stored path of recording {r.id} "
            "is not inside the archive root; refused. An admin must check this row)",
            error_id="archive_path_refused",
        ) from None
    if not full.is_file():
        log.error("recording %s: archived file %s is missing", r.id, full)
        raise Unavailable(
            f"归档文件不存在，请联系管理员 (the archived file of recording {r.id} is missing; "
            "the archive storage may not be mounted: tell an admin)",
            error_id="archive_file_missing",
        )
    return full


async def _wav(root: Path, r: Recording, src: Path) -> Path:
    """A WAV of `src`, made once into the cache under the archive root and reused."""
    dest = retention.wav_cache(root, r)
    lock = _converting.setdefault(dest, asyncio.Lock())
    async with lock:
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.stem}.{uuid4().hex}.part.wav")
        try:
            await audio.to_wav(src, tmp)
            tmp.replace(dest)  # whole or not at all
        except audio.AudioError as exc:
            raise Unavailable(
                f"无法转换为 WAV，可改用原格式 (could not make a WAV of recording {r.id}: "
                f"{exc.message}; play it in the archived format instead)",
                error_id=exc.error_id,
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _disposition(r: Recording, suffix: str, timezone: str) -> str:
    """attachment with an ASCII name and the Chinese one as RFC 5987 `filename*`."""
    local = r.started_at.astimezone(ZoneInfo(timezone))
    number = re.sub(r"[^0-9+]", "", r.caller_number or "") or "unknown"
    stem = f"{local:%Y%m%d-%H%M%S}-{number}-{r.id}{suffix}"
    return (
        f'attachment; filename="recording-{stem}"; '
        f"filename*=UTF-8''{quote(f'通话录音-{stem}', safe='')}"
    )


OnStart = Callable[[int, str | None], Awaitable[None]]


class AuditedFileResponse(FileResponse):
    """Starlette's FileResponse (Range, 206, 416, HEAD) that calls `on_start` just before
    it starts sending audio (status 200 or 206), so a request refused with 416 or 400 is
    not counted as a playback and no audio leaves without its audit entry."""

    def __init__(
        self,
        path: Path,
        *,
        on_start: OnStart | None,
        media_type: str,
        headers: dict[str, str],
        stat_result: os.stat_result,
    ) -> None:
        super().__init__(path, media_type=media_type, headers=headers, stat_result=stat_result)
        self._on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on_start = self._on_start

        async def audited(message: Message) -> None:
            if (
                on_start is not None
                and message["type"] == "http.response.start"
                and message["status"] in (200, 206)
            ):
                ranges = [v for k, v in message["headers"] if k.lower() == b"content-range"]
                await on_start(message["status"], ranges[0].decode() if ranges else None)
            await send(message)

        await super().__call__(scope, receive, audited)


# --- search and metadata --------------------------------------------------------------------


@router.get("/recordings", response_model=RecordingPage, tags=["recordings"])
async def search_recordings(
    request: Request,
    user: AnyUser,
    since: Since = None,
    until: Until = None,
    number: Annotated[str | None, Query(max_length=64, description="caller number or part")] = None,
    agent: Annotated[str | None, Query(max_length=128, description="member or interface")] = None,
    queue: Annotated[str | None, Query(max_length=128)] = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    ticket: Annotated[int | None, Query(description="the 工单 id: its call's recording")] = None,
    min_duration_s: Annotated[float | None, Query(ge=0)] = None,
    status: Status | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RecordingPage:
    since, until = time_range(request, since, until)
    own = own_scope(user)
    if ticket is not None:
        found_ticket = await request.app.state.container.tickets.store.get(ticket)
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
    found, total = await _store(request).search(f, offset=offset, limit=limit)
    items = [RecordingOut.model_validate(r) for r in found]
    return RecordingPage(items=items, total=total, offset=offset, limit=limit)


@router.get("/recordings/{recording_id}", response_model=RecordingOut, tags=["recordings"])
async def get_recording(request: Request, user: AnyUser, recording_id: int) -> RecordingOut:
    return RecordingOut.model_validate(await _visible(request, user, recording_id))


@router.get("/calls/{call_id}/recording", response_model=RecordingOut, tags=["recordings"])
async def get_call_recording(request: Request, user: AnyUser, call_id: str) -> RecordingOut:
    r = await _store(request).by_call(call_id)
    if r is None or not await may_see(request, user, r):
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
    recording_id: int,
    fmt: Annotated[
        Literal["archived", "wav"],
        Query(alias="format", description="archived (as stored) or wav (decoded on request)"),
    ] = "archived",
    download: Annotated[bool, Query(description="as an attachment with a file name")] = False,
) -> AuditedFileResponse:
    """The audio, with HTTP Range (browser players seek with it). Every GET that sends
    audio is written to the audit log (action play or download)."""
    r = await _visible(request, user, recording_id)
    root = _root(request)
    path = _archived_file(root, r)
    if fmt == "wav" and path.suffix != ".wav":
        path = await _wav(root, r, path)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = _disposition(r, path.suffix, _timezone(request))
    action = "download" if download else "play"
    remote = request.client.host if request.client else None
    store = _store(request)

    asked = request.headers.get("range", "")[:200]

    async def audit(status: int, content_range: str | None) -> None:
        # 206 carries one Content-Range, or several ranges in a multipart body
        sent = (content_range or f"{asked} (multipart)") if status == 206 else "whole file"
        await store.audit(
            actor=user.name,
            action=action,
            recording_id=r.id,
            at=datetime.now(UTC),
            remote=remote,
            detail=f"format={path.suffix.lstrip('.')}; range={sent}",
        )

    return AuditedFileResponse(
        path,
        on_start=None if request.method == "HEAD" else audit,
        media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        headers=headers,
        stat_result=path.stat(),
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
async def recording_peaks(request: Request, user: AnyUser, recording_id: int) -> FileResponse:
    """Per-channel min/max peaks for drawing the waveform (customer, agent; or mixed), made
    once per archived file; no audio, so not in the audit log."""
    r = await _visible(request, user, recording_id)
    root = _root(request)
    _archived_file(root, r)  # the same answers as the audio when there is none
    try:
        path = await peaks.ensure_peaks(root, r)
    except audio.AudioError as exc:
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
    request: Request,
    user: Admin,
    recording_id: int | None = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32, description="play, download…")] = None,
    since: Since = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    entries = await _store(request).audit_log(
        recording_id=recording_id,
        actor=actor,
        action=action,
        since=local(request, since),
        offset=offset,
        limit=limit,
    )
    return AuditPage(
        items=[AuditOut.model_validate(e) for e in entries], offset=offset, limit=limit
    )


# --- retention, holds, retry ----------------------------------------------------------------


@router.put("/recordings/{recording_id}/hold", response_model=RecordingOut, tags=["recordings"])
async def put_hold(request: Request, user: Admin, recording_id: int, body: HoldIn) -> RecordingOut:
    r = await retention.set_hold(
        _store(request), recording_id, body.hold, body.reason, user.name, datetime.now(UTC)
    )
    return RecordingOut.model_validate(r)


@router.put(
    "/recordings/{recording_id}/important", response_model=RecordingOut, tags=["recordings"]
)
async def put_important(
    request: Request, user: Admin, recording_id: int, body: ImportantIn
) -> RecordingOut:
    s = request.app.state.container.settings.recording
    policy = RetentionPolicy(s.retention_days, s.important_retention_days)
    r = await retention.set_important(
        _store(request), recording_id, body.important, user.name, datetime.now(UTC), policy
    )
    return RecordingOut.model_validate(r)


@router.put(
    "/recordings/{recording_id}/retention", response_model=RecordingOut, tags=["recordings"]
)
async def put_retention(
    request: Request, user: Admin, recording_id: int, body: RetentionIn
) -> RecordingOut:
    until = local(request, body.until)
    assert until is not None
    r = await retention.set_retention(
        _store(request), recording_id, until, user.name, datetime.now(UTC)
    )
    return RecordingOut.model_validate(r)


@router.post("/recordings/purge", response_model=PurgeReport, tags=["recordings"])
async def post_purge(
    request: Request,
    user: Admin,
    dry_run: Annotated[
        bool, Query(description="true (the default): only list what would be deleted")
    ] = True,
) -> PurgeReport:
    items = await retention.purge(
        _store(request),
        _root(request),
        now=datetime.now(UTC),
        dry_run=dry_run,
        actor=user.name,
        timezone=_timezone(request),
        on_purged=request.app.state.container.transcripts.delete,
    )
    out = [PurgeItemOut.model_validate(i) for i in items]
    return PurgeReport(dry_run=dry_run, count=len(out), items=out)


@router.post("/recordings/{recording_id}/retry", response_model=RecordingOut, tags=["recordings"])
async def post_retry(request: Request, user: Supervisor, recording_id: int) -> RecordingOut:

    r = await retry_recording(request.app.state.container, recording_id, user.name)
    return RecordingOut.model_validate(r)
