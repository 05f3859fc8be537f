"""Transcripts: a call's or a recording's transcript, and search by what was said.

Rule: an agent sees only transcripts of their own calls (as for recordings: the member
name or interface that had the call); inspectors and above see all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from hotline.api.auth import AnyUser
from hotline.api.routes.common import may_see, own_scope, time_range
from hotline.asr.store import TranscriptStore, search_key
from hotline.core.errors import NotFound
from hotline.recording.store import Recording, RecordingStore

router = APIRouter(prefix="/api", tags=["transcripts"])


class UtteranceOut(BaseModel):
    channel: str  # customer (left), agent (right) or mixed
    start: float  # seconds from the start of the recording
    end: float
    text: str  # normalized: no spaces between Chinese words, simplified characters


class TranscriptOut(BaseModel):
    recording_id: int
    call_id: str | None
    status: str  # pending, done, failed, no_model
    reason: str | None
    pipeline_version: str
    model_id: str | None
    vosk_version: str | None
    duration_s: float | None
    created_at: datetime
    updated_at: datetime
    utterances: list[UtteranceOut]  # both channels in time order, for reading
    transcript: dict[str, Any] | None  # Vosk's result shape per utterance, per channel


class MatchOut(BaseModel):
    channel: str
    start: float
    end: float
    text: str


class SearchHitOut(BaseModel):
    recording_id: int
    call_id: str | None
    started_at: datetime
    caller_number: str | None
    agent: str | None
    queue: str | None
    matches: list[MatchOut]


class SearchOut(BaseModel):
    query: str
    searched: str  # the query as searched: simplified, without spaces
    items: list[SearchHitOut]
    offset: int
    limit: int


def _transcripts(request: Request) -> TranscriptStore:
    store: TranscriptStore = request.app.state.container.transcripts
    return store


def _recordings(request: Request) -> RecordingStore:
    store: RecordingStore = request.app.state.container.recordings
    return store


async def _out(request: Request, r: Recording) -> TranscriptOut:
    t = await _transcripts(request).get(r.id)
    if t is None:
        raise NotFound(
            f"录音 {r.id} 尚无转写 (recording {r.id} has no transcript yet: it is transcribed "
            "after it is archived; see its status with GET /api/recordings/{id})",
            error_id="transcript_missing",
        )
    return TranscriptOut(
        recording_id=t.recording_id,
        call_id=t.call_id,
        status=t.status.value,
        reason=t.reason,
        pipeline_version=t.pipeline_version,
        model_id=t.model_id,
        vosk_version=t.vosk_version,
        duration_s=t.duration_s,
        created_at=t.created_at,
        updated_at=t.updated_at,
        utterances=[
            UtteranceOut(channel=u.channel.value, start=u.start, end=u.end, text=u.normalized)
            for u in (t.transcript.utterances if t.transcript else ())
            if u.normalized
        ],
        transcript=t.transcript.to_dict() if t.transcript else None,
    )


@router.get("/calls/{call_id}/transcript", response_model=TranscriptOut)
async def call_transcript(request: Request, user: AnyUser, call_id: str) -> TranscriptOut:
    r = await _recordings(request).by_call(call_id)
    if r is None or not await may_see(request, user, r):
        raise NotFound(
            f"没有通话 {call_id} 的录音，或你无权查看 (no recording of call {call_id!r} that "
            "you may see; search with GET /api/recordings)"
        )
    return await _out(request, r)


@router.get("/recordings/{recording_id}/transcript", response_model=TranscriptOut)
async def recording_transcript(request: Request, user: AnyUser, recording_id: int) -> TranscriptOut:
    r = await _recordings(request).get(recording_id)
    if r is None or not await may_see(request, user, r):
        raise NotFound(
            f"没有编号为 {recording_id} 的录音，或你无权查看 "
            f"(no recording {recording_id} that you may see; search with GET /api/recordings)"
        )
    return await _out(request, r)


@router.get("/transcripts/search", response_model=SearchOut)
async def search_transcripts(
    request: Request,
    user: AnyUser,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words said, e.g. 燃气泄漏")],
    since: Annotated[
        datetime | None, Query(description="calls from (ISO 8601; no zone = local time)")
    ] = None,
    until: Annotated[datetime | None, Query(description="calls until, exclusive")] = None,
    agent: Annotated[str | None, Query(max_length=128, description="the recording's agent")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SearchOut:
    since, until = time_range(request, since, until)
    own = own_scope(user)
    hits = await _transcripts(request).search(
        q, since=since, until=until, agent=agent, only_agent=own, offset=offset, limit=limit
    )
    return SearchOut(
        query=q,
        searched=search_key(q),
        items=[
            SearchHitOut(
                recording_id=h.recording_id,
                call_id=h.call_id,
                started_at=h.started_at,
                caller_number=h.caller_number,
                agent=h.agent,
                queue=h.queue,
                matches=[
                    MatchOut(channel=m.channel, start=m.start_s, end=m.end_s, text=m.text)
                    for m in h.matches
                ],
            )
            for h in hits
        ],
        offset=offset,
        limit=limit,
    )
