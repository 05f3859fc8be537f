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
A call scored with another pack (e.g. zh-CN@2) gets a new row; lists, the review queue and
reports see only each call's newest row (the highest id), the older ones stay for audit.

A finalised score is frozen: verdicts and accepted appeals are refused until an inspector
reopens it (with a reason, kept in the history); comments, appeals and their rejection or
withdrawal still go through, since they leave the score as it is.

Each public method is one transaction; its tables are in hotline.quality.tables, the records
it hands out in hotline.quality.records, the steps it takes on a score's rows in
hotline.quality.txn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import paging
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.periods import Period
from hotline.quality import reports, review, txn
from hotline.quality.model import Score
from hotline.quality.records import (
    Appeal,
    HitRecord,
    ScoredCall,
    ScoreDetail,
    to_appeal,
    to_call,
    to_hit,
)
from hotline.quality.review import AppealAction, AppealState, ReviewRules, ReviewStatus, Verdict
from hotline.quality.tables import EFFECTIVE_SCORE, AppealRow, CommentRow, HitRow, ScoreRow
from hotline.telephony.view import call_answered_by, owned_by

SYSTEM = "system"  # the actor of the pipeline's own changes


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what}不能为空 (the {what} is empty: write a few words)")
    if len(value) > 2000:
        raise InvalidInput(f"{what}过长 (at most 2000 characters, got {len(value)})")
    return value


def _fmt(score: float | None) -> str | None:
    return None if score is None else f"{score:.1f}"


def _newest() -> Any:
    """Only each call's newest score row: a re-score with another pack is a new row, and
    `save_score` moves the `latest` flag to it (migration 0013), so no query has to find
    the newest row of every call."""
    return ScoreRow.latest == True  # noqa: E712  (`IS true` would not use the column plainly)


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
                        txn.log(
                            session,
                            row,
                            now,
                            SYSTEM,
                            "rescore_kept",
                            before=before,
                            after=_fmt(score.score),
                            detail="已定稿，保留复核结果 (finalised: the review is kept)",
                        )
                        return to_call(row)
                    row.auto_score = score.score
                    row.auto_band = score.band
                    row.instant_fail = score.instant_fail
                    if before is None:
                        row.score, row.band, row.updated_at = score.score, score.band, now
                    await session.flush()
                    if before is None:  # a new row (another pack): the call's newest now
                        await session.execute(
                            update(ScoreRow)
                            .where(ScoreRow.call_id == call_id, ScoreRow.id < row.id)
                            .values(latest=False)
                        )
                    await txn.merge_hits(session, row, score, self.rules)
                    await txn.rescore(session, row, self.rules, now)
                    txn.log(
                        session,
                        row,
                        now,
                        SYSTEM,
                        "scored" if before is None else "rescored",
                        before=before,
                        after=_fmt(score.score),
                        detail=score.pack or None,
                    )
                    return to_call(row)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- reading -------------------------------------------------------------------------

    async def get(self, call_id: str, pack: str | None = None) -> ScoreDetail | None:
        """A call's score (its newest pack unless `pack` is given) with everything a person
        did to it."""
        async with self._sessions() as session:
            stmt = select(ScoreRow).where(ScoreRow.call_id == call_id)
            if pack is not None:
                stmt = stmt.where(ScoreRow.pack == pack)
            row = await session.scalar(stmt.order_by(ScoreRow.id.desc()))
            if row is None:
                return None
            return await txn.detail(session, row)

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
        cursor: str | None = None,
    ) -> list[ScoredCall]:
        """Scored calls, newest call first. `only_agent` is the role check: an agent's own
        calls, by the score's agent or the call's member name or interface. `cursor`
        (`next_cursor(last of the previous page)`) starts after that page, at any depth."""
        keyset = paging.after(ScoreRow.call_started_at, ScoreRow.id, cursor, int)
        stmt = select(ScoreRow).where(_newest(), *self._filters(since, until, only_agent), *keyset)
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
            return [to_call(r) for r in rows]

    @staticmethod
    def next_cursor(last: ScoredCall) -> str:
        """The cursor of the page after the one that ended with `last`."""
        return paging.Cursor(last.call_started_at, str(last.id)).encode()

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
            where.append(owned_by(only_agent, ScoreRow.id, ScoreRow.agent, ScoreRow.call_id))
        return where

    async def belongs_to(self, call: ScoredCall, agent: str) -> bool:
        """Whether `agent` (a member name or interface) answered this call."""
        if call.agent == agent:
            return True
        async with self._sessions() as session:
            found = await session.scalar(call_answered_by(call.call_id, agent))
            return found is not None

    async def candidates(
        self, since: datetime, until: datetime
    ) -> list[tuple[review.Candidate, ScoredCall]]:
        """Every scored call of [since, until): as the review queue sees it (its pending
        needs-review hits counted from the hits themselves, the reference for the count kept
        on the row), and as it is."""
        pending = (
            select(HitRow.score_id, func.count().label("n"))
            .where(HitRow.verdict == Verdict.PENDING.value, HitRow.needs_review.is_(True))
            .group_by(HitRow.score_id)
            .subquery()
        )
        stmt = (
            select(ScoreRow, func.coalesce(pending.c.n, 0))
            .outerjoin(pending, pending.c.score_id == ScoreRow.id)
            .where(_newest(), *self._filters(since, until, None))
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
                to_call(r),
            )
            for r, n in rows
        ]

    async def review_queue(
        self,
        since: datetime,
        until: datetime,
        *,
        period_key: str,
        percent: float,
        low_below: float,
        limit: int,
        seed: str = "hotline",
    ) -> list[tuple[ScoredCall, int, tuple[review.QueueReason, ...]]]:
        """The review queue of [since, until) computed by the database: the same entries, in
        the same order, as `review.review_queue(candidates, review.sample(...))` (the pure
        rule), each with its pending needs-review hits (the count kept on the score row) and
        reasons, at most `limit`. The 抽查 sample is ranked per agent by the same keyed sha256
        in SQL (a window).

        A call only sampled (no pending hit, score not below `low_below`) sorts after every
        call that needs review or scored low, so when those fill `limit` the entries are
        known without the sample: only their agents' calls are ranked, for the reasons.
        Otherwise the whole period is ranked."""
        s = ScoreRow
        period = [_newest(), *self._filters(since, until, None)]
        needs = s.pending_review > 0
        async with self._sessions() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            # group and order by plain bytes on PostgreSQL: the pure rule compares code points
            # (and a collation's comparisons cost more than the rest of the window)
            agent = s.agent.collate("C") if postgres else s.agent
            call_id = s.call_id.collate("C") if postgres else s.call_id
            order = (case((needs, 0), else_=1), s.score, s.call_started_at, call_id)
            key = literal(f"{seed}|{period_key}|", String()) + s.call_id
            # the digest's bytes sort as its hex text does (and need no collation)
            digest = func.sha256(func.convert_to(key, "UTF8")) if postgres else func.sha256_hex(key)

            def ranked(*where: Any) -> Any:
                return (
                    select(
                        s.id.label("sid"),
                        func.row_number().over(partition_by=agent, order_by=digest).label("rn"),
                        func.count().over(partition_by=agent).label("n"),
                    )
                    .where(*period, *where)
                    .subquery()
                )

            def sampled(cand: Any) -> Any:
                # rank r is sampled when r <= max(1, ceil(n * percent / 100 - 1e-9))
                if percent <= 0:
                    return false()
                return or_(cand.c.rn == 1, (cand.c.rn - 1) * 100.0 < cand.c.n * percent - 1e-7)

            open_ = s.status != ReviewStatus.FINALISED.value
            top = (
                select(s.id, s.agent)
                .where(*period, open_, or_(needs, s.score < low_below))
                .order_by(*order)
                .limit(limit)
                .cte("top")
            )
            of_top = ranked(
                or_(
                    s.agent.in_(select(top.c.agent)),
                    s.agent.is_(None) & exists().where(top.c.agent.is_(None)),
                )
            )
            rows = (
                await session.execute(
                    select(s, case((sampled(of_top), 1), else_=0))
                    .join(of_top, of_top.c.sid == s.id)
                    .where(s.id.in_(select(top.c.id)))  # SQLite would scan `top` per row of a join
                    .order_by(*order)
                )
            ).all()
            if len(rows) < limit:  # the sample may add calls: rank the whole period
                cand = ranked()
                rows = (
                    await session.execute(
                        select(s, case((sampled(cand), 1), else_=0))
                        .join(cand, cand.c.sid == s.id)
                        .where(open_, or_(needs, s.score < low_below, sampled(cand)))
                        .order_by(*order)
                        .limit(limit)
                    )
                ).all()
        out = []
        for row, picked in rows:
            reasons = [
                reason
                for reason, on in (
                    (review.QueueReason.NEEDS_REVIEW, row.pending_review > 0),
                    (review.QueueReason.LOW_SCORE, row.score < low_below),
                    (review.QueueReason.SAMPLE, bool(picked)),
                )
                if on
            ]
            out.append((to_call(row), row.pending_review, tuple(reasons)))
        return out

    async def period_details(self, since: datetime, until: datetime) -> list[ScoreDetail]:
        """Every scored call of [since, until) with its hits: what reports aggregate. The
        hits are read by joining the same selection, never by a list of ids (a month holds
        more scores than a statement may bind parameters)."""
        period = [_newest(), *self._filters(since, until, None)]
        async with self._sessions() as session:
            rows = list(
                await session.scalars(
                    select(ScoreRow).where(*period).order_by(ScoreRow.call_started_at, ScoreRow.id)
                )
            )
            hits: dict[int, list[HitRecord]] = {r.id: [] for r in rows}
            for h in await session.scalars(
                select(HitRow)
                .join(ScoreRow, ScoreRow.id == HitRow.score_id)
                .where(*period)
                .order_by(HitRow.score_id, HitRow.start_s)
            ):
                hits[h.score_id].append(to_hit(h))
        return [ScoreDetail(to_call(r), tuple(hits[r.id]), (), (), ()) for r in rows]

    async def report(self, period: Period, now: datetime) -> reports.Report:
        """The period's report (hotline.quality.reports) aggregated by the database: one
        GROUP BY (agent, queue) over the scores and one over the hits that stand (agents,
        teams, rules and the total are summed from those few rows), the worst calls by
        ORDER BY … LIMIT; only the few worst calls' hits are read. Equal to `build_report`
        over `period_details`."""
        since, until = period.bounds()
        s, h = ScoreRow, HitRow
        period_where = [_newest(), *self._filters(since, until, None)]
        finalised = s.status == ReviewStatus.FINALISED.value
        effective = case((finalised & s.final_score.is_not(None), s.final_score), else_=s.score)
        confirmed = h.verdict == Verdict.CONFIRMED.value
        stands = or_((h.verdict == Verdict.PENDING.value) & h.needs_review.is_(False), confirmed)
        async with self._sessions() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            # the hits are grouped by sorting (for the distinct calls): by plain bytes on
            # PostgreSQL, as a collation's comparisons cost more than the sums; the scores
            # are grouped by hashing
            agent, queue, rule, call_id = (
                (c.collate("C") for c in (s.agent, s.queue, h.rule, s.call_id))
                if postgres
                else (s.agent, s.queue, h.rule, s.call_id)
            )
            pairs = (
                select(
                    s.agent,
                    s.queue,
                    func.count(),
                    func.sum(case((finalised, 1), else_=0)),
                    func.sum(effective),
                    func.sum(case((s.within_rule.is_not(None), 1), else_=0)),
                    func.sum(case((s.within_rule.is_(True), 1), else_=0)),
                )
                .where(*period_where)
                .group_by(s.agent, s.queue)
            )
            pair_hits = (
                select(
                    agent,
                    queue,
                    rule,
                    func.count(),
                    func.sum(case((confirmed, 1), else_=0)),
                    func.count(func.distinct(h.score_id)),
                )
                .select_from(h)
                .join(s, s.id == h.score_id)
                .where(*period_where, stands)
                .group_by(agent, queue, rule)
            )
            pair_rows = list((await session.execute(pairs)).all())
            hit_rows = list((await session.execute(pair_hits)).all())
            worst_rows = list(
                await session.scalars(
                    select(s)
                    .where(*period_where)
                    # the text of ix_quality_scores_worst, so the database reads it in order
                    .order_by(literal_column(EFFECTIVE_SCORE), s.call_started_at, call_id)
                    .limit(reports.WORST)
                )
            )
            worst_hits: dict[int, list[HitRow]] = {r.id: [] for r in worst_rows}
            if worst_rows:  # at most WORST ids: a bounded list
                for hit in await session.scalars(
                    select(h).where(h.score_id.in_(list(worst_hits))).order_by(h.start_s)
                ):
                    worst_hits[hit.score_id].append(hit)
        worst = [
            reports.report_call(
                ScoreDetail(to_call(r), tuple(to_hit(x) for x in worst_hits[r.id]), (), (), ())
            )
            for r in worst_rows
        ]
        return reports.report_from_totals(
            period, now, pairs=pair_rows, pair_hits=hit_rows, worst=worst
        )

    # --- the inspector's actions ---------------------------------------------------------

    async def set_verdict(
        self,
        call_id: str,
        hit_id: int,
        verdict: Verdict,
        *,
        actor: str,
        now: datetime,
        expected: int | None = None,
        comment: str | None = None,
    ) -> ScoreDetail:
        """Confirm or overturn one hit (again, to change one's mind); the score follows."""
        if verdict is Verdict.PENDING:
            raise InvalidInput("verdict must be confirmed or overturned")
        note = _text(comment, "意见") if comment and comment.strip() else None
        async with self._sessions() as session, session.begin():
            row = await txn.locked(session, call_id, expected)
            hit = await txn.hit_of(session, row, hit_id)
            review.check_open(row.call_id, ReviewStatus(row.status), row.finalised_by)
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
            after_score = await txn.rescore(session, row, self.rules, now)
            txn.log(
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
                txn.log(
                    session,
                    row,
                    now,
                    actor,
                    "score",
                    before=_fmt(before_score),
                    after=_fmt(after_score),
                )
            await session.flush()
            return await txn.detail(session, row)

    async def comment(
        self,
        call_id: str,
        text: str,
        *,
        actor: str,
        now: datetime,
        expected: int | None = None,
        hit_id: int | None = None,
    ) -> ScoreDetail:
        body = _text(text, "评语")
        async with self._sessions() as session, session.begin():
            row = await txn.locked(session, call_id, expected)
            if hit_id is not None:
                await txn.hit_of(session, row, hit_id)
            session.add(CommentRow(score_id=row.id, hit_id=hit_id, author=actor, at=now, text=body))
            txn.log(session, row, now, actor, "comment", hit_id=hit_id, after=body)
            await session.flush()
            return await txn.detail(session, row)

    async def finalise(
        self, call_id: str, *, actor: str, now: datetime, expected: int | None = None
    ) -> ScoreDetail:
        """Fix the final score: every needs-review hit decided first (Conflict otherwise);
        the scorer's undecided deductions are confirmed by the finalising inspector."""
        async with self._sessions() as session, session.begin():
            row = await txn.locked(session, call_id, expected)
            if row.status == ReviewStatus.FINALISED.value:
                raise Conflict(
                    f"通话 {call_id} 已定稿，如需更改请先重开 (call {call_id!r} was finalised by "
                    f"{row.finalised_by}; to change it, reopen it first)",
                    error_id="already_finalised",
                )
            hits = list(
                await session.scalars(
                    select(HitRow).where(HitRow.score_id == row.id).order_by(HitRow.id)
                )
            )
            verdicts = review.final_verdicts([to_hit(h).state for h in hits])
            for h, v in zip(hits, verdicts, strict=True):
                if h.verdict != v.value:
                    h.verdict, h.verdict_by, h.verdict_at = v.value, actor, now
                    txn.log(
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
            final = await txn.rescore(session, row, self.rules, now)
            txn.log(session, row, now, actor, "finalise", before=_fmt(before), after=_fmt(final))
            await session.flush()
            return await txn.detail(session, row)

    async def reopen(
        self, call_id: str, reason: str, *, actor: str, now: datetime, expected: int | None = None
    ) -> ScoreDetail:
        """Reopen a finalised score to correct it on purpose: the verdicts are kept, and
        can change again until an inspector finalises it anew."""
        why = _text(reason, "重开理由")
        async with self._sessions() as session, session.begin():
            row = await txn.locked(session, call_id, expected)
            if row.status != ReviewStatus.FINALISED.value:
                raise Conflict(
                    f"通话 {call_id} 尚未定稿，无需重开 (call {call_id!r} is not finalised: "
                    "confirm or overturn its hits directly; reopen is for finalised scores)",
                    error_id="not_finalised",
                )
            final = row.final_score
            row.status = ReviewStatus.OPEN.value
            row.final_score, row.finalised_by, row.finalised_at = None, None, None
            row.updated_at = now
            txn.log(session, row, now, actor, "reopen", before=_fmt(final), detail=why)
            await session.flush()
            return await txn.detail(session, row)

    # --- appeals -------------------------------------------------------------------------

    async def open_appeal(
        self,
        call_id: str,
        hit_id: int,
        reason: str,
        *,
        actor: str,
        now: datetime,
        expected: int | None = None,
    ) -> Appeal:
        """发起: the agent's appeal on one hit of their call (ownership is the caller's check)."""
        text = _text(reason, "申诉理由")
        async with self._sessions() as session, session.begin():
            row = await txn.locked(session, call_id, expected)
            hit = await txn.hit_of(session, row, hit_id)
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
            txn.log(
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
            return to_appeal(appeal)

    async def get_appeal(self, appeal_id: int) -> Appeal | None:
        async with self._sessions() as session:
            row = await session.get(AppealRow, appeal_id)
            return to_appeal(row) if row else None

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
            return [to_appeal(r) for r in rows]

    async def move_appeal(
        self,
        appeal_id: int,
        action: AppealAction,
        *,
        actor: str,
        now: datetime,
        expected: int | None = None,
        reason: str | None = None,
    ) -> Appeal:
        """撤销 (the appealing agent), 同意 or 驳回 (an inspector, with a reason). An accepted
        appeal overturns its hit and the score follows; on a finalised call it is refused
        until an inspector reopens the score."""
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
            row = await txn.locked(session, appeal.call_id, expected)
            before = appeal.state
            after = review.appeal_move(AppealState(appeal.state), action)
            if action is AppealAction.ACCEPT:
                review.check_open(row.call_id, ReviewStatus(row.status), row.finalised_by)
            appeal.state = after.value
            appeal.closed_by, appeal.closed_at, appeal.decision_reason = actor, now, why
            txn.log(
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
                hit = await txn.hit_of(session, row, appeal.hit_id)
                old_verdict, old_score = hit.verdict, row.score
                hit.verdict, hit.verdict_by, hit.verdict_at = Verdict.OVERTURNED.value, actor, now
                hit.verdict_comment = why
                await session.flush()
                new_score = await txn.rescore(session, row, self.rules, now)
                txn.log(
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
                    txn.log(
                        session,
                        row,
                        now,
                        actor,
                        "score",
                        before=_fmt(old_score),
                        after=_fmt(new_score),
                    )
            await session.flush()
            return to_appeal(appeal)
