"""The steps a QualityStore transaction takes on one call's score rows. Rule: each works in
the session it is handed and never opens, commits or rolls back one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.core.errors import NotFound, VersionConflict
from hotline.quality import review
from hotline.quality.model import Score
from hotline.quality.records import (
    ScoreDetail,
    to_appeal,
    to_call,
    to_comment,
    to_history,
    to_hit,
)
from hotline.quality.review import ReviewRules, ReviewStatus, Verdict
from hotline.quality.tables import AppealRow, CommentRow, HistoryRow, HitRow, ScoreRow


def _hit_key(rule: str, channel: str, start: float) -> tuple[str, str, float]:
    return rule, channel, round(start, 1)


async def locked(session: AsyncSession, call_id: str, expected: int | None = None) -> ScoreRow:
    """The call's newest score row, locked for the rest of the transaction, its version
    moved on by compare-and-set (UPDATE ... WHERE version = :v, which also holds on SQLite,
    where FOR UPDATE is ignored): a decision made on another version is VersionConflict."""
    row = await session.scalar(
        select(ScoreRow)
        .where(ScoreRow.call_id == call_id)
        .order_by(ScoreRow.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None:
        raise NotFound(
            f"通话 {call_id} 尚未评分 (call {call_id!r} has no quality score: it is scored "
            "after it is transcribed; see GET /api/quality/scores)"
        )
    what = f"通话 {call_id} 的质检评分"
    if expected is not None and row.version != expected:
        raise VersionConflict(what, row.version)
    try:
        moved = await session.execute(
            update(ScoreRow)
            .where(ScoreRow.id == row.id, ScoreRow.version == row.version)
            .values(version=row.version + 1)
            .execution_options(synchronize_session="fetch")
        )
    except OperationalError as exc:  # SQLite: another writer committed after our read
        if "locked" in str(exc):
            raise VersionConflict(what) from None
        raise
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise VersionConflict(what)
    await session.refresh(row)
    return row


async def hit_of(session: AsyncSession, row: ScoreRow, hit_id: int) -> HitRow:
    hit = await session.get(HitRow, hit_id)
    if hit is None or hit.score_id != row.id:
        raise NotFound(
            f"通话 {row.call_id} 没有编号为 {hit_id} 的命中 (call {row.call_id!r} has no "
            f"hit {hit_id}; the call's hits are in GET /api/quality/scores/{row.call_id})"
        )
    return hit


async def merge_hits(
    session: AsyncSession, row: ScoreRow, score: Score, rules: ReviewRules
) -> None:
    """A re-score's hits in place of the undecided, untouched ones; the hits a person worked
    on stay (hotline.quality.store's docstring)."""
    old = list(await session.scalars(select(HitRow).where(HitRow.score_id == row.id)))
    worked_on = set(  # appealed or commented: a person's work hangs on them
        await session.scalars(select(AppealRow.hit_id).where(AppealRow.score_id == row.id))
    ) | set(
        await session.scalars(
            select(CommentRow.hit_id).where(
                CommentRow.score_id == row.id, CommentRow.hit_id.is_not(None)
            )
        )
    )
    kept = {
        _hit_key(h.rule, h.channel, h.start_s)
        for h in old
        if h.verdict != Verdict.PENDING.value or h.id in worked_on
    }
    drop = [h.id for h in old if h.verdict == Verdict.PENDING.value and h.id not in worked_on]
    if drop:
        await session.execute(delete(HitRow).where(HitRow.id.in_(drop)))
    for hit in score.hits:
        if _hit_key(hit.rule, hit.channel, hit.start) in kept:
            continue
        session.add(
            HitRow(
                score_id=row.id,
                rule=hit.rule,
                channel=hit.channel,
                start_s=hit.start,
                end_s=hit.end,
                evidence=hit.evidence,
                conf=hit.conf,
                deduction=hit.deduction,
                points=rules.points(hit),
                needs_review=hit.needs_review,
                instant_fail=hit.rule in rules.instant_fail,
                verdict=Verdict.PENDING.value,
            )
        )
    await session.flush()


async def rescore(session: AsyncSession, row: ScoreRow, rules: ReviewRules, now: datetime) -> float:
    """The current score: the scorer's own figure while nobody decided a hit (it may round
    or cap differently), else recomputed from the verdicts; the final one once finalised.
    Also the row's count of pending needs-review hits (every change of a hit ends here)."""
    hits = [
        to_hit(h) for h in await session.scalars(select(HitRow).where(HitRow.score_id == row.id))
    ]
    untouched = row.status == ReviewStatus.OPEN.value and all(
        h.verdict is Verdict.PENDING for h in hits
    )
    if untouched:
        row.score, row.band = row.auto_score, row.auto_band
    else:
        row.score = review.score_of(h.state for h in hits)
        row.band = rules.band(row.score)
    if row.status == ReviewStatus.FINALISED.value:
        row.final_score = row.score
    row.pending_review = sum(1 for h in hits if h.verdict is Verdict.PENDING and h.needs_review)
    row.updated_at = now
    return row.score


async def detail(session: AsyncSession, row: ScoreRow) -> ScoreDetail:
    """The call's score with everything a person did to it."""
    hits = await session.scalars(
        select(HitRow).where(HitRow.score_id == row.id).order_by(HitRow.start_s, HitRow.id)
    )
    comments = await session.scalars(
        select(CommentRow).where(CommentRow.score_id == row.id).order_by(CommentRow.id)
    )
    appeals = await session.scalars(
        select(AppealRow).where(AppealRow.score_id == row.id).order_by(AppealRow.id)
    )
    history = await session.scalars(
        select(HistoryRow).where(HistoryRow.score_id == row.id).order_by(HistoryRow.id)
    )
    return ScoreDetail(
        to_call(row),
        tuple(to_hit(h) for h in hits),
        tuple(to_comment(c) for c in comments),
        tuple(to_appeal(a) for a in appeals),
        tuple(to_history(h) for h in history),
    )


def log(
    session: AsyncSession,
    row: ScoreRow,
    now: datetime,
    actor: str,
    action: str,
    *,
    hit_id: int | None = None,
    appeal_id: int | None = None,
    before: str | None = None,
    after: str | None = None,
    detail: str | None = None,
) -> None:
    """One history entry: who, when, what, before and after."""
    session.add(
        HistoryRow(
            score_id=row.id,
            at=now,
            actor=actor,
            action=action,
            hit_id=hit_id,
            appeal_id=appeal_id,
            before=before,
            after=after,
            detail=detail or None,
        )
    )
