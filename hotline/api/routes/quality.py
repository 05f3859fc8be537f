"""Quality inspection over HTTP: scored calls, the review queue, verdicts, appeals, reports.

Rule: an agent sees and appeals only the calls they answered (member name or interface);
inspectors review, decide appeals and see everything; reports are for supervisors and up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from hotline.api.audit import Action as AuditAction
from hotline.api.deps import (
    AnyUser,
    Audit,
    Inspector,
    Quality,
    Settings,
    Supervisor,
    Timezone,
    Transcripts,
)
from hotline.api.etag import IfMatch, Versioned, conflict, expected
from hotline.api.quality_schemas import (
    AppealOut,
    CommentIn,
    GroupOut,
    QueueItemOut,
    QueueOut,
    ReasonIn,
    ReportOut,
    RuleOut,
    ScoredCallOut,
    ScoreDetailOut,
    VerdictIn,
    WorstOut,
)
from hotline.api.routes.common import (
    XLSX,
    PageCursor,
    Since,
    Until,
    download,
    own_scope,
    time_range,
)
from hotline.api.schemas import UtteranceOut
from hotline.api.users import User
from hotline.asr.store import TranscriptStore
from hotline.core.errors import NotAllowed, NotFound, VersionConflict
from hotline.core.periods import Period, PeriodKind
from hotline.quality import reports, review
from hotline.quality.records import ScoreDetail
from hotline.quality.review import AppealAction, AppealState, ReviewStatus, Verdict
from hotline.quality.store import QualityStore

router = APIRouter(prefix="/api/quality", tags=["quality"])


def _not_found(call_id: str) -> NotFound:
    return NotFound(
        f"没有通话 {call_id} 的质检评分，或你无权查看 (no quality score of call {call_id!r} "
        "that you may see; list them with GET /api/quality/scores)"
    )


async def _visible(store: QualityStore, user: User, call_id: str) -> ScoreDetail:
    detail = await store.get(call_id)
    if detail is None:
        raise _not_found(call_id)
    own = own_scope(user)
    if own is not None and not await store.belongs_to(detail.call, own):
        raise _not_found(call_id)
    return detail


async def _out(transcripts: TranscriptStore, d: ScoreDetail) -> ScoreDetailOut:
    utterances: list[UtteranceOut] = []
    rid = d.call.recording_id
    if rid is not None:
        t = await transcripts.get(rid)
        utterances = UtteranceOut.all_of(t.transcript if t is not None else None)
    return ScoreDetailOut.model_validate(
        {
            "call": d.call,
            "hits": d.hits,
            "pending_review": d.pending_review,
            "comments": d.comments,
            "appeals": d.appeals,
            "history": d.history,
            "recording_id": rid,
            "utterances": utterances,
        },
        from_attributes=True,
    )


@router.get("/scores", response_model=list[ScoredCallOut])
async def list_scores(
    user: AnyUser,
    store: Quality,
    tz: Timezone,
    since: Since = None,
    until: Until = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    queue: Annotated[str | None, Query(max_length=128, description="the team (queue)")] = None,
    band: Annotated[str | None, Query(max_length=32, description="e.g. 不合格")] = None,
    status: ReviewStatus | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: PageCursor = None,
    response: Response = None,  # type: ignore[assignment]  # FastAPI fills it in
) -> list[ScoredCallOut]:
    """A full page sends the next page's cursor in the `X-Next-Cursor` header."""
    since, until = time_range(tz, since, until)
    calls = await store.list_scores(
        agent=agent,
        queue=queue,
        band=band,
        status=status,
        since=since,
        until=until,
        only_agent=own_scope(user),
        offset=offset,
        limit=limit,
        cursor=cursor,
    )
    if response is not None and len(calls) == limit:
        response.headers["X-Next-Cursor"] = store.next_cursor(calls[-1])
    return [ScoredCallOut.model_validate(c) for c in calls]


@router.get("/scores/{call_id}", response_model=ScoreDetailOut)
async def get_score(
    user: AnyUser,
    store: Quality,
    transcripts: Transcripts,
    audit: Audit,
    call_id: str,
    v: IfMatch = None,
) -> ScoreDetailOut:
    """One scored call: its hits with their evidence (what was said); the read is audited."""
    d = await _visible(store, user, call_id)
    rid = d.call.recording_id
    await audit(user, AuditAction.SCORE_DETAIL, recording_id=rid, detail=f"call={call_id}")
    if v is not None:
        v.tag(d.call.version)
    return await _out(transcripts, d)


async def _versioned(
    store: QualityStore,
    transcripts: TranscriptStore,
    call_id: str,
    v: Versioned | None,
    decide: Callable[[int | None], Awaitable[ScoreDetail]],
) -> ScoreDetailOut:
    """A review decision on the version the client read (If-Match), with the new ETag; on
    another version a 409 carrying the current score."""
    try:
        d = await decide(expected(v))
    except VersionConflict as exc:
        now = await store.get(call_id)
        if now is None:
            raise
        raise conflict(exc, await _out(transcripts, now), now.call.version) from None
    if v is not None:
        v.tag(d.call.version)
    return await _out(transcripts, d)


@router.get("/review-queue", response_model=QueueOut)
async def review_queue(
    user: Inspector,
    store: Quality,
    tz: Timezone,
    settings: Settings,
    period: Annotated[
        str | None,
        Query(description="YYYY-MM-DD, YYYY-Www or YYYY-MM; default: this week"),
    ] = None,
    low_below: Annotated[float, Query(ge=0, le=100, description="scores below this")] = 90.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> QueueOut:
    p = Period.from_key(period, tz) if period else Period.of(PeriodKind.WEEK, datetime.now(UTC), tz)
    since, until = p.bounds()
    percent = settings.quality.sample_percent
    entries = await store.review_queue(
        since,
        until,
        period_key=p.key,
        percent=percent,
        low_below=low_below,
        limit=limit,
        seed=settings.security.sample_key,
    )
    return QueueOut(
        period=p.key,
        since=since,
        until=until,
        sample_percent=percent,
        items=[
            QueueItemOut(
                call=ScoredCallOut.model_validate(call),
                pending_review=pending,
                reasons=[r.value for r in reasons],
            )
            for call, pending, reasons in entries
        ],
    )


async def _decide(
    store: QualityStore,
    transcripts: TranscriptStore,
    user: User,
    call_id: str,
    hit_id: int,
    verdict: Verdict,
    body: VerdictIn | None,
    v: Versioned | None = None,
) -> ScoreDetailOut:
    return await _versioned(
        store,
        transcripts,
        call_id,
        v,
        lambda version: store.set_verdict(
            call_id,
            hit_id,
            verdict,
            actor=user.name,
            now=datetime.now(UTC),
            comment=body.comment if body else None,
            expected=version,
        ),
    )


@router.post("/scores/{call_id}/hits/{hit_id}/confirm", response_model=ScoreDetailOut)
async def confirm_hit(
    user: Inspector,
    store: Quality,
    transcripts: Transcripts,
    call_id: str,
    hit_id: int,
    body: VerdictIn | None = None,
    v: IfMatch = None,
) -> ScoreDetailOut:
    return await _decide(store, transcripts, user, call_id, hit_id, Verdict.CONFIRMED, body, v)


@router.post("/scores/{call_id}/hits/{hit_id}/overturn", response_model=ScoreDetailOut)
async def overturn_hit(
    user: Inspector,
    store: Quality,
    transcripts: Transcripts,
    call_id: str,
    hit_id: int,
    body: VerdictIn | None = None,
    v: IfMatch = None,
) -> ScoreDetailOut:
    return await _decide(store, transcripts, user, call_id, hit_id, Verdict.OVERTURNED, body, v)


@router.post("/scores/{call_id}/comments", response_model=ScoreDetailOut)
async def comment(
    user: Inspector,
    store: Quality,
    transcripts: Transcripts,
    call_id: str,
    body: CommentIn,
    v: IfMatch = None,
) -> ScoreDetailOut:
    return await _versioned(
        store,
        transcripts,
        call_id,
        v,
        lambda version: store.comment(
            call_id,
            body.text,
            actor=user.name,
            now=datetime.now(UTC),
            hit_id=body.hit_id,
            expected=version,
        ),
    )


@router.post("/scores/{call_id}/finalise", response_model=ScoreDetailOut)
async def finalise(
    user: Inspector, store: Quality, transcripts: Transcripts, call_id: str, v: IfMatch = None
) -> ScoreDetailOut:
    return await _versioned(
        store,
        transcripts,
        call_id,
        v,
        lambda version: store.finalise(
            call_id, actor=user.name, now=datetime.now(UTC), expected=version
        ),
    )


@router.post("/scores/{call_id}/reopen", response_model=ScoreDetailOut)
async def reopen(
    user: Inspector,
    store: Quality,
    transcripts: Transcripts,
    call_id: str,
    body: ReasonIn,
    v: IfMatch = None,
) -> ScoreDetailOut:
    """Reopen a finalised score to correct it (the reason is kept in its history)."""
    return await _versioned(
        store,
        transcripts,
        call_id,
        v,
        lambda version: store.reopen(
            call_id, body.reason, actor=user.name, now=datetime.now(UTC), expected=version
        ),
    )


@router.post("/scores/{call_id}/hits/{hit_id}/appeal", response_model=AppealOut, status_code=201)
async def appeal(
    user: AnyUser, store: Quality, call_id: str, hit_id: int, body: ReasonIn
) -> AppealOut:
    if user.agent is None:
        raise HTTPException(
            403,
            detail={
                "error": "forbidden",
                "message": "只有通话的坐席可以申诉 (only the agent who answered the call can "
                f"appeal; you are {user.name} ({user.role.value}) with no agent set)",
            },
        )
    detail = await store.get(call_id)
    if detail is None or not await store.belongs_to(detail.call, user.agent):
        raise _not_found(call_id)
    a = await store.open_appeal(
        call_id, hit_id, body.reason, actor=user.name, now=datetime.now(UTC)
    )
    return AppealOut.model_validate(a)


@router.post("/appeals/{appeal_id}/withdraw", response_model=AppealOut)
async def withdraw(user: AnyUser, store: Quality, appeal_id: int) -> AppealOut:
    a = await store.move_appeal(
        appeal_id, AppealAction.WITHDRAW, actor=user.name, now=datetime.now(UTC)
    )
    return AppealOut.model_validate(a)


async def _decide_appeal(
    store: QualityStore,
    user: User,
    appeal_id: int,
    action: AppealAction,
    reason: str,
    v: Versioned | None = None,
) -> AppealOut:
    """同意 / 驳回 on the version of the call's score the inspector read (If-Match: the
    score's ETag); never by the appellant or the agent whose call it is."""
    found = await store.get_appeal(appeal_id)
    if found is not None and review.decides_own(
        found.opened_by, found.agent, user.name, user.agent
    ):
        raise NotAllowed(
            f"不能处理自己的申诉（申诉 {appeal_id}），请由其他质检员处理 (an appeal on your own "
            "call is decided by another inspector)",
            error_id="own_appeal",
        )
    try:
        a = await store.move_appeal(
            appeal_id,
            action,
            actor=user.name,
            now=datetime.now(UTC),
            reason=reason,
            expected=expected(v),
        )
    except VersionConflict as exc:
        found = await store.get_appeal(appeal_id)
        now = await store.get(found.call_id) if found else None
        if now is None:
            raise
        raise conflict(exc, ScoredCallOut.model_validate(now.call), now.call.version) from None
    return AppealOut.model_validate(a)


@router.post("/appeals/{appeal_id}/accept", response_model=AppealOut)
async def accept_appeal(
    user: Inspector, store: Quality, appeal_id: int, body: ReasonIn, v: IfMatch = None
) -> AppealOut:
    """同意: the hit is overturned and the score recomputed (a finalised score: reopen first)."""
    return await _decide_appeal(store, user, appeal_id, AppealAction.ACCEPT, body.reason, v)


@router.post("/appeals/{appeal_id}/reject", response_model=AppealOut)
async def reject_appeal(
    user: Inspector, store: Quality, appeal_id: int, body: ReasonIn, v: IfMatch = None
) -> AppealOut:
    """驳回, with the reason the agent reads."""
    return await _decide_appeal(store, user, appeal_id, AppealAction.REJECT, body.reason, v)


@router.get("/appeals", response_model=list[AppealOut])
async def list_appeals(
    user: AnyUser,
    store: Quality,
    state: AppealState | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AppealOut]:
    items = await store.appeals(state=state, only_agent=own_scope(user), offset=offset, limit=limit)
    return [AppealOut.model_validate(a) for a in items]


def _group(g: reports.GroupStats) -> GroupOut:
    return GroupOut(
        name=g.name,
        calls=g.calls,
        finalised=g.finalised,
        average=g.average,
        ring_rate=g.ring_rate,
        hits=g.hits,
    )


@router.get("/reports", response_model=ReportOut)
async def report(
    user: Supervisor,
    store: Quality,
    tz: Timezone,
    audit: Audit,
    period: PeriodKind = PeriodKind.DAY,
    day: Annotated[date | None, Query(alias="date", description="a day in the period")] = None,
    format: Literal["json", "xlsx"] = "json",
) -> ReportOut | Response:
    now = datetime.now(UTC)
    p = Period.of(period, day or now, tz)
    r = await store.report(p, now)
    if format == "xlsx":
        title = reports.report_title(r)
        ascii_name = f"quality-{period.value}-{p.key}.xlsx"
        await audit(user, AuditAction.EXPORT, detail=f"{ascii_name}: {title}")
        body = await asyncio.to_thread(reports.to_xlsx, r)  # CPU work off the event loop
        return download(body, XLSX, ascii_name, title + ".xlsx")
    return ReportOut(
        title=reports.report_title(r),
        period=p.key,
        first_day=p.first.isoformat(),
        last_day=p.last.isoformat(),
        total=_group(r.total),
        agents=[_group(g) for g in r.agents],
        teams=[_group(g) for g in r.teams],
        rules=[
            RuleOut(
                rule=x.rule,
                name=reports.rule_name(x.rule),
                hits=x.hits,
                confirmed=x.confirmed,
                calls=x.calls,
            )
            for x in r.rules
        ],
        worst=[
            WorstOut(
                call_id=c.call_id,
                agent=c.agent,
                queue=c.queue,
                started_at=c.started_at,
                score=c.score,
                band=c.band,
                finalised=c.finalised,
                rules=list(c.rules),
            )
            for c in r.worst
        ],
    )
