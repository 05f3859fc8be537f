"""Scored calls, the inspector's verdicts, comments and appeals, in the database. Rule: a
person's work is never lost: every change leaves a history entry (who, when, what,
before/after), and a re-score never wipes a review.

Re-scoring (the pipeline scores a call again, e.g. a new transcript or pack version), one row
per (call, pack):
- a call nobody has touched yet takes the new score and hits as they are;
- a call with human work (a verdict, a comment or an appeal) keeps every hit a person
  decided, appealed or commented on, with its verdict; the new score's other hits replace the old
  undecided ones (a new hit at the same rule, channel and time as a kept one is that hit);
- a finalised call keeps everything: the new automatic score is only noted in its history.
The call's current score is then recomputed from the verdicts (hotline.quality.review).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.quality import review
from hotline.quality.model import Score
from hotline.quality.review import (
    AppealAction,
    AppealState,
    HitState,
    ReviewRules,
    ReviewStatus,
    Verdict,
)
from hotline.telephony.store import CallRow

_R = TypeVar("_R")
SYSTEM = "system"  # the actor of the pipeline's own changes


class ScoreRow(Base):
    __tablename__ = "quality_scores"
    __table_args__ = (UniqueConstraint("call_id", "pack"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    pack: Mapped[str] = mapped_column(String(128))
    recording_id: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(128), index=True)
    queue: Mapped[str | None] = mapped_column(String(128), index=True)
    call_started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    within_rule: Mapped[bool | None] = mapped_column(Boolean)
    auto_score: Mapped[float] = mapped_column(Float)  # the scorer's
    auto_band: Mapped[str] = mapped_column(String(32))
    instant_fail: Mapped[bool] = mapped_column(Boolean)  # the scorer's
    score: Mapped[float] = mapped_column(Float, index=True)  # current: from the verdicts
    band: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    final_score: Mapped[float | None] = mapped_column(Float)
    finalised_by: Mapped[str | None] = mapped_column(String(64))
    finalised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HitRow(Base):
    __tablename__ = "quality_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    conf: Mapped[float] = mapped_column(Float)
    deduction: Mapped[float] = mapped_column(Float)  # the scorer's (0 while it needs review)
    points: Mapped[float] = mapped_column(Float)  # taken off once confirmed
    needs_review: Mapped[bool] = mapped_column(Boolean)
    instant_fail: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(String(16))
    verdict_by: Mapped[str | None] = mapped_column(String(64))
    verdict_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verdict_comment: Mapped[str | None] = mapped_column(Text)


class CommentRow(Base):
    __tablename__ = "quality_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    hit_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


class AppealRow(Base):
    __tablename__ = "quality_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("quality_hits.id"), index=True)
    call_id: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(128))  # the call's agent
    opened_by: Mapped[str] = mapped_column(String(64))  # the appealing user
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class HistoryRow(Base):
    __tablename__ = "quality_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("quality_scores.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    hit_id: Mapped[int | None] = mapped_column(Integer)
    appeal_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


# --- plain records out ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoredCall:
    id: int
    call_id: str
    pack: str
    recording_id: int | None
    agent: str | None
    queue: str | None
    call_started_at: datetime
    ring_seconds: float | None
    within_rule: bool | None
    auto_score: float
    auto_band: str
    instant_fail: bool
    score: float  # current (the final score once finalised)
    band: str
    status: ReviewStatus
    final_score: float | None
    finalised_by: str | None
    finalised_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HitRecord:
    id: int
    rule: str
    channel: str
    start: float
    end: float
    evidence: str
    conf: float
    deduction: float
    points: float
    needs_review: bool
    instant_fail: bool
    verdict: Verdict
    verdict_by: str | None
    verdict_at: datetime | None
    verdict_comment: str | None

    @property
    def state(self) -> HitState:
        return HitState(self.points, self.needs_review, self.instant_fail, self.verdict)


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    hit_id: int | None
    author: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    call_id: str
    hit_id: int
    agent: str | None
    opened_by: str
    reason: str
    state: AppealState
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    decision_reason: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    at: datetime
    actor: str
    action: str
    hit_id: int | None
    appeal_id: int | None
    before: str | None
    after: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ScoreDetail:
    call: ScoredCall
    hits: tuple[HitRecord, ...]
    comments: tuple[Comment, ...]
    appeals: tuple[Appeal, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def pending_review(self) -> int:
        return sum(1 for h in self.hits if h.verdict is Verdict.PENDING and h.needs_review)


def _copy(cls: type[_R], row: Base, **changes: Any) -> _R:
    """A record from a row of the same field names (`changes` for the others)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{n: changes[n] if n in changes else getattr(row, n) for n in names})


def _call(r: ScoreRow) -> ScoredCall:
    return _copy(ScoredCall, r, status=ReviewStatus(r.status))


def _hit(r: HitRow) -> HitRecord:
    return _copy(HitRecord, r, start=r.start_s, end=r.end_s, verdict=Verdict(r.verdict))


def _appeal(r: AppealRow) -> Appeal:
    return _copy(Appeal, r, state=AppealState(r.state))


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what}不能为空 (the {what} is empty: write a few words)")
    if len(value) > 2000:
        raise InvalidInput(f"{what}过长 (at most 2000 characters, got {len(value)})")
    return value


def _hit_key(rule: str, channel: str, start: float) -> tuple[str, str, float]:
    return rule, channel, round(start, 1)


def _fmt(score: float | None) -> str | None:
    return None if score is None else f"{score:.1f}"


class QualityStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: ReviewRules | None = None,
    ) -> None:
        self._sessions = sessions
        self.rules = rules or ReviewRules()

    # --- the pipeline's side -------------------------------------------------------------

    async def save_score(
        self,
        *,
        call_id: str,
        recording_id: int | None,
        agent: str | None,
        queue: str | None,
        call_started_at: datetime,
        ring_seconds: float | None,
        within_rule: bool | None,
        score: Score,
        now: datetime,
    ) -> ScoredCall:
        """Store the scorer's result; idempotent per (call, pack). See the module docstring
        for what a re-score keeps."""
        for attempt in range(2):  # a concurrent first save of the same call: go again
            try:
                async with self._sessions() as session, session.begin():
                    row = await session.scalar(
                        select(ScoreRow)
                        .where(ScoreRow.call_id == call_id, ScoreRow.pack == score.pack)
                        .with_for_update()
                    )
                    if row is None:
                        row = ScoreRow(
                            call_id=call_id,
                            pack=score.pack,
                            status=ReviewStatus.OPEN.value,
                            created_at=now,
                        )
                        session.add(row)
                        before = None
                    else:
                        before = _fmt(row.auto_score)
                    row.recording_id = recording_id
                    row.agent = agent
                    row.queue = queue
                    row.call_started_at = call_started_at
                    row.ring_seconds = ring_seconds
                    row.within_rule = within_rule
                    if row.status == ReviewStatus.FINALISED.value:
                        row.updated_at = now
                        self._log(
                            session,
                            row,
                            now,
                            SYSTEM,
                            "rescore_kept",
                            before=before,
                            after=_fmt(score.score),
                            detail="已定稿，保留复核结果 (finalised: the review is kept)",
                        )
                        return _call(row)
                    row.auto_score = score.score
                    row.auto_band = score.band
                    row.instant_fail = score.instant_fail
                    if before is None:
                        row.score, row.band, row.updated_at = score.score, score.band, now
                    await session.flush()
                    await self._merge_hits(session, row, score)
                    await self._rescore(session, row, now)
                    self._log(
                        session,
                        row,
                        now,
                        SYSTEM,
                        "scored" if before is None else "rescored",
                        before=before,
                        after=_fmt(score.score),
                        detail=score.pack or None,
                    )
                    return _call(row)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _merge_hits(self, session: AsyncSession, row: ScoreRow, score: Score) -> None:
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
                    points=self.rules.points(hit),
                    needs_review=hit.needs_review,
                    instant_fail=hit.rule in self.rules.instant_fail,
                    verdict=Verdict.PENDING.value,
                )
            )
        await session.flush()

    async def _rescore(self, session: AsyncSession, row: ScoreRow, now: datetime) -> float:
        """The current score: the scorer's own figure while nobody decided a hit (it may round
        or cap differently), else recomputed from the verdicts; the final one once finalised."""
        hits = [
            _hit(h) for h in await session.scalars(select(HitRow).where(HitRow.score_id == row.id))
        ]
        untouched = row.status == ReviewStatus.OPEN.value and all(
            h.verdict is Verdict.PENDING for h in hits
        )
        if untouched:
            row.score, row.band = row.auto_score, row.auto_band
        else:
            row.score = review.score_of(h.state for h in hits)
            row.band = self.rules.band(row.score)
        if row.status == ReviewStatus.FINALISED.value:
            row.final_score = row.score
        row.updated_at = now
        return row.score

    # --- reading -------------------------------------------------------------------------

    async def get(self, call_id: str, pack: str | None = None) -> ScoreDetail | None:
        """A call's score (its newest pack unless `pack` is given) with everything a person
        did to it."""
        async with self._sessions() as session:
            stmt = select(ScoreRow).where(ScoreRow.call_id == call_id)
            if pack is not None:
                stmt = stmt.where(ScoreRow.pack == pack)
            row = await session.scalar(
                stmt.order_by(ScoreRow.created_at.desc(), ScoreRow.id.desc())
            )
            if row is None:
                return None
            return await self._detail(session, row)

    async def _detail(self, session: AsyncSession, row: ScoreRow) -> ScoreDetail:
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
            _call(row),
            tuple(_hit(h) for h in hits),
            tuple(_copy(Comment, c) for c in comments),
            tuple(_appeal(a) for a in appeals),
            tuple(_copy(HistoryEntry, h) for h in history),
        )

    async def list_scores(
        self,
        *,
        agent: str | None = None,
        queue: str | None = None,
        band: str | None = None,
        status: ReviewStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        only_agent: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[ScoredCall]:
        """Scored calls, newest call first. `only_agent` is the role check: an agent's own
        calls, by the score's agent or the call's member name or interface."""
        stmt = select(ScoreRow).where(*self._filters(since, until, only_agent))
        if agent:
            stmt = stmt.where(ScoreRow.agent == agent)
        if queue:
            stmt = stmt.where(ScoreRow.queue == queue)
        if band:
            stmt = stmt.where(ScoreRow.band == band)
        if status:
            stmt = stmt.where(ScoreRow.status == status.value)
        stmt = stmt.order_by(ScoreRow.call_started_at.desc(), ScoreRow.id.desc())
        async with self._sessions() as session:
            rows = await session.scalars(stmt.offset(offset).limit(limit))
            return [_call(r) for r in rows]

    @staticmethod
    def _filters(
        since: datetime | None, until: datetime | None, only_agent: str | None
    ) -> list[Any]:
        where: list[Any] = []
        if since:
            where.append(ScoreRow.call_started_at >= since)
        if until:
            where.append(ScoreRow.call_started_at < until)
        if only_agent is not None:
            theirs = select(CallRow.call_id).where(
                (CallRow.agent_member == only_agent) | (CallRow.agent_interface == only_agent)
            )
            where.append(or_(ScoreRow.agent == only_agent, ScoreRow.call_id.in_(theirs)))
        return where

    async def belongs_to(self, call: ScoredCall, agent: str) -> bool:
        """Whether `agent` (a member name or interface) answered this call."""
        if call.agent == agent:
            return True
        async with self._sessions() as session:
            found = await session.scalar(
                select(CallRow.call_id).where(
                    CallRow.call_id == call.call_id,
                    (CallRow.agent_member == agent) | (CallRow.agent_interface == agent),
                )
            )
            return found is not None

    async def candidates(
        self, since: datetime, until: datetime
    ) -> list[tuple[review.Candidate, ScoredCall]]:
        """Every scored call of [since, until): as the review queue sees it, and as it is."""
        pending = (
            select(HitRow.score_id, func.count().label("n"))
            .where(HitRow.verdict == Verdict.PENDING.value, HitRow.needs_review.is_(True))
            .group_by(HitRow.score_id)
            .subquery()
        )
        stmt = (
            select(ScoreRow, func.coalesce(pending.c.n, 0))
            .outerjoin(pending, pending.c.score_id == ScoreRow.id)
            .where(*self._filters(since, until, None))
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [
            (
                review.Candidate(
                    r.call_id,
                    r.agent,
                    r.score,
                    r.call_started_at,
                    int(n),
                    r.status == ReviewStatus.FINALISED.value,
                ),
                _call(r),
            )
            for r, n in rows
        ]

    async def period_details(self, since: datetime, until: datetime) -> list[ScoreDetail]:
        """Every scored call of [since, until) with its hits: what reports aggregate."""
        async with self._sessions() as session:
            rows = list(
                await session.scalars(
                    select(ScoreRow)
                    .where(*self._filters(since, until, None))
                    .order_by(ScoreRow.call_started_at, ScoreRow.id)
                )
            )
            ids = [r.id for r in rows]
            hits: dict[int, list[HitRecord]] = {i: [] for i in ids}
            if ids:
                for h in await session.scalars(
                    select(HitRow).where(HitRow.score_id.in_(ids)).order_by(HitRow.start_s)
                ):
                    hits[h.score_id].append(_hit(h))
        return [ScoreDetail(_call(r), tuple(hits[r.id]), (), (), ()) for r in rows]

    # --- the inspector's actions ---------------------------------------------------------

    async def _locked(self, session: AsyncSession, call_id: str) -> ScoreRow:
        row = await session.scalar(
            select(ScoreRow)
            .where(ScoreRow.call_id == call_id)
            .order_by(ScoreRow.created_at.desc(), ScoreRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None:
            raise NotFound(
                f"通话 {call_id} 尚未评分 (call {call_id!r} has no quality score: it is scored "
                "after it is transcribed; see GET /api/quality/scores)"
            )
        return row

    async def _hit_of(self, session: AsyncSession, row: ScoreRow, hit_id: int) -> HitRow:
        hit = await session.get(HitRow, hit_id)
        if hit is None or hit.score_id != row.id:
            raise NotFound(
                f"通话 {row.call_id} 没有编号为 {hit_id} 的命中 (call {row.call_id!r} has no "
                f"hit {hit_id}; the call's hits are in GET /api/quality/scores/{row.call_id})"
            )
        return hit

    async def set_verdict(
        self,
        call_id: str,
        hit_id: int,
        verdict: Verdict,
        *,
        actor: str,
        now: datetime,
        comment: str | None = None,
    ) -> ScoreDetail:
        """Confirm or overturn one hit (again, to change one's mind); the score follows."""
        if verdict is Verdict.PENDING:
            raise InvalidInput("verdict must be confirmed or overturned")
        note = _text(comment, "意见") if comment and comment.strip() else None
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, call_id)
            hit = await self._hit_of(session, row, hit_id)
            before_score = row.score
            before = hit.verdict
            hit.verdict = verdict.value
            hit.verdict_by = actor
            hit.verdict_at = now
            hit.verdict_comment = note
            if note:
                session.add(
                    CommentRow(score_id=row.id, hit_id=hit.id, author=actor, at=now, text=note)
                )
            await session.flush()
            after_score = await self._rescore(session, row, now)
            self._log(
                session,
                row,
                now,
                actor,
                verdict.value,
                hit_id=hit.id,
                before=before,
                after=verdict.value,
                detail=f"{hit.rule}: {note or ''}".rstrip(": "),
            )
            if after_score != before_score:
                self._log(
                    session,
                    row,
                    now,
                    actor,
                    "score",
                    before=_fmt(before_score),
                    after=_fmt(after_score),
                )
            await session.flush()
            return await self._detail(session, row)

    async def comment(
        self, call_id: str, text: str, *, actor: str, now: datetime, hit_id: int | None = None
    ) -> ScoreDetail:
        body = _text(text, "评语")
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, call_id)
            if hit_id is not None:
                await self._hit_of(session, row, hit_id)
            session.add(CommentRow(score_id=row.id, hit_id=hit_id, author=actor, at=now, text=body))
            self._log(session, row, now, actor, "comment", hit_id=hit_id, after=body)
            await session.flush()
            return await self._detail(session, row)

    async def finalise(self, call_id: str, *, actor: str, now: datetime) -> ScoreDetail:
        """Fix the final score: every needs-review hit decided first (Conflict otherwise);
        the scorer's undecided deductions are confirmed by the finalising inspector."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, call_id)
            if row.status == ReviewStatus.FINALISED.value:
                raise Conflict(
                    f"通话 {call_id} 已定稿 (call {call_id!r} was finalised by "
                    f"{row.finalised_by}; an accepted appeal can still change its score)",
                    error_id="already_finalised",
                )
            hits = list(
                await session.scalars(
                    select(HitRow).where(HitRow.score_id == row.id).order_by(HitRow.id)
                )
            )
            verdicts = review.final_verdicts([_hit(h).state for h in hits])
            for h, v in zip(hits, verdicts, strict=True):
                if h.verdict != v.value:
                    h.verdict, h.verdict_by, h.verdict_at = v.value, actor, now
                    self._log(
                        session,
                        row,
                        now,
                        actor,
                        v.value,
                        hit_id=h.id,
                        before=Verdict.PENDING.value,
                        after=v.value,
                        detail=f"{h.rule}: 定稿时按评分确认 (confirmed as scored on finalising)",
                    )
            before = row.score
            row.status = ReviewStatus.FINALISED.value
            row.finalised_by, row.finalised_at = actor, now
            row.final_score = row.score
            await session.flush()
            final = await self._rescore(session, row, now)
            self._log(session, row, now, actor, "finalise", before=_fmt(before), after=_fmt(final))
            await session.flush()
            return await self._detail(session, row)

    # --- appeals -------------------------------------------------------------------------

    async def open_appeal(
        self, call_id: str, hit_id: int, reason: str, *, actor: str, now: datetime
    ) -> Appeal:
        """发起: the agent's appeal on one hit of their call (ownership is the caller's check)."""
        text = _text(reason, "申诉理由")
        async with self._sessions() as session, session.begin():
            row = await self._locked(session, call_id)
            hit = await self._hit_of(session, row, hit_id)
            earlier = await session.scalars(
                select(AppealRow.state).where(AppealRow.hit_id == hit.id)
            )
            review.check_new_appeal(Verdict(hit.verdict), (AppealState(s) for s in earlier))
            appeal = AppealRow(
                score_id=row.id,
                hit_id=hit.id,
                call_id=row.call_id,
                agent=row.agent,
                opened_by=actor,
                reason=text,
                state=AppealState.OPEN.value,
                opened_at=now,
            )
            session.add(appeal)
            await session.flush()
            self._log(
                session,
                row,
                now,
                actor,
                "appeal_open",
                hit_id=hit.id,
                appeal_id=appeal.id,
                after=AppealState.OPEN.value,
                detail=text,
            )
            return _appeal(appeal)

    async def get_appeal(self, appeal_id: int) -> Appeal | None:
        async with self._sessions() as session:
            row = await session.get(AppealRow, appeal_id)
            return _appeal(row) if row else None

    async def appeals(
        self,
        *,
        state: AppealState | None = None,
        only_agent: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Appeal]:
        """Appeals, oldest first (the order an inspector works them off)."""
        stmt = select(AppealRow).join(ScoreRow, ScoreRow.id == AppealRow.score_id)
        stmt = stmt.where(*self._filters(None, None, only_agent))
        if state:
            stmt = stmt.where(AppealRow.state == state.value)
        async with self._sessions() as session:
            rows = await session.scalars(stmt.order_by(AppealRow.id).offset(offset).limit(limit))
            return [_appeal(r) for r in rows]

    async def move_appeal(
        self,
        appeal_id: int,
        action: AppealAction,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
    ) -> Appeal:
        """撤销 (the appealing agent), 同意 or 驳回 (an inspector, with a reason). An accepted
        appeal overturns its hit and the score follows, even on a finalised call."""
        why = _text(reason or "", "处理理由") if action is not AppealAction.WITHDRAW else None
        async with self._sessions() as session, session.begin():
            appeal = await session.get(AppealRow, appeal_id)
            if appeal is None:
                raise NotFound(
                    f"没有编号为 {appeal_id} 的申诉 (no appeal {appeal_id}; "
                    "see GET /api/quality/appeals)"
                )
            if action is AppealAction.WITHDRAW and appeal.opened_by != actor:
                raise Conflict(
                    f"只有申诉人 {appeal.opened_by} 可以撤销 (only {appeal.opened_by}, who "
                    "opened this appeal, can withdraw it)",
                    error_id="not_appellant",
                )
            row = await self._locked(session, appeal.call_id)
            before = appeal.state
            appeal.state = review.appeal_move(AppealState(appeal.state), action).value
            appeal.closed_by, appeal.closed_at, appeal.decision_reason = actor, now, why
            self._log(
                session,
                row,
                now,
                actor,
                f"appeal_{action.value}",
                hit_id=appeal.hit_id,
                appeal_id=appeal.id,
                before=before,
                after=appeal.state,
                detail=why,
            )
            if action is AppealAction.ACCEPT:
                hit = await self._hit_of(session, row, appeal.hit_id)
                old_verdict, old_score = hit.verdict, row.score
                hit.verdict, hit.verdict_by, hit.verdict_at = Verdict.OVERTURNED.value, actor, now
                hit.verdict_comment = why
                await session.flush()
                new_score = await self._rescore(session, row, now)
                self._log(
                    session,
                    row,
                    now,
                    actor,
                    Verdict.OVERTURNED.value,
                    hit_id=hit.id,
                    appeal_id=appeal.id,
                    before=old_verdict,
                    after=Verdict.OVERTURNED.value,
                    detail=f"{hit.rule}: 申诉成立 (appeal accepted)",
                )
                if new_score != old_score:
                    self._log(
                        session,
                        row,
                        now,
                        actor,
                        "score",
                        before=_fmt(old_score),
                        after=_fmt(new_score),
                    )
            await session.flush()
            return _appeal(appeal)

    # --- history -------------------------------------------------------------------------

    @staticmethod
    def _log(
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
