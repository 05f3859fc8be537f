"""Transcripts: a call's or a recording's transcript, and search by what was said.

Rule: an agent sees only transcripts of their own calls (as for recordings: the member
name or interface that had the call); inspectors and above see all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from hotline.api.audit import Action as AuditAction
from hotline.api.audit import Auditor
from hotline.api.deps import AnyUser, Audit, Recordings, Timezone, Transcripts
from hotline.api.routes.common import may_see, own_scope, time_range
from hotline.api.transcript_schemas import SearchHitOut, SearchOut, TranscriptOut
from hotline.api.users import User
from hotline.asr.store import TranscriptStore, search_key
from hotline.core.errors import NotFound
from hotline.recording.store import Recording

router = APIRouter(prefix="/api", tags=["transcripts"])


async def _out(
    transcripts: TranscriptStore, r: Recording, user: User, audit: Auditor
) -> TranscriptOut:
    t = await transcripts.get(r.id)
    if t is None:
        raise NotFound(
            f"录音 {r.id} 尚无转写 (recording {r.id} has no transcript yet: it is transcribed "
            "after it is archived; see its status with GET /api/recordings/{id})",
            error_id="transcript_missing",
        )
    await audit(user, AuditAction.TRANSCRIPT, recording_id=r.id, detail=f"call={r.call_id}")
    return TranscriptOut.of(t)


@router.get("/calls/{call_id}/transcript", response_model=TranscriptOut)
async def call_transcript(
    user: AnyUser, recordings: Recordings, transcripts: Transcripts, audit: Audit, call_id: str
) -> TranscriptOut:
    r = await recordings.by_call(call_id)
    if r is None or not await may_see(recordings, user, r):
        raise NotFound(
            f"没有通话 {call_id} 的录音，或你无权查看 (no recording of call {call_id!r} that "
            "you may see; search with GET /api/recordings)"
        )
    return await _out(transcripts, r, user, audit)


@router.get("/recordings/{recording_id}/transcript", response_model=TranscriptOut)
async def recording_transcript(
    user: AnyUser,
    recordings: Recordings,
    transcripts: Transcripts,
    audit: Audit,
    recording_id: int,
) -> TranscriptOut:
    r = await recordings.get(recording_id)
    if r is None or not await may_see(recordings, user, r):
        raise NotFound(
            f"没有编号为 {recording_id} 的录音，或你无权查看 "
            f"(no recording {recording_id} that you may see; search with GET /api/recordings)"
        )
    return await _out(transcripts, r, user, audit)


@router.get("/transcripts/search", response_model=SearchOut)
async def search_transcripts(
    user: AnyUser,
    transcripts: Transcripts,
    audit: Audit,
    tz: Timezone,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words said, e.g. 燃气泄漏")],
    since: Annotated[
        datetime | None, Query(description="calls from (ISO 8601; no zone = local time)")
    ] = None,
    until: Annotated[datetime | None, Query(description="calls until, exclusive")] = None,
    agent: Annotated[str | None, Query(max_length=128, description="the recording's agent")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> SearchOut:
    since, until = time_range(tz, since, until)
    page = await transcripts.search(
        q,
        since=since,
        until=until,
        agent=agent,
        only_agent=own_scope(user),
        offset=offset,
        limit=limit,
        cursor=cursor,
    )
    hits = page.items
    await audit.each(user, AuditAction.SEARCH_HIT, [h.recording_id for h in hits], detail=f"q={q}")
    return SearchOut(
        query=q,
        searched=search_key(q),
        items=[SearchHitOut.of(h) for h in hits],
        offset=offset,
        limit=limit,
        next_cursor=page.next_cursor,
    )
