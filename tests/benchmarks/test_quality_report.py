"""The quality report aggregated by the database equals the pure aggregation
(reports.build_report over every scored call of the period), on a generated month, and again
after inspectors confirm and overturn hits and finalise a call (the score rows are rewritten)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.core.periods import Period, PeriodKind
from hotline.quality import reports
from hotline.quality.review import Verdict
from hotline.quality.store import QualityStore
from hotline.quality.tables import EFFECTIVE_SCORE


async def _same_report(store: QualityStore, period: Period, now: datetime) -> reports.Report:
    since, until = period.bounds()
    details = await store.period_details(since, until)
    expected = reports.build_report([reports.report_call(d) for d in details], period, now)
    got = await store.report(period, now)

    assert expected.total.calls > 100 and expected.total.hit_total > 0
    for name in ("total", "agents", "teams"):
        e, g = getattr(expected, name), getattr(got, name)
        for a, b in zip(
            e if isinstance(e, tuple) else [e], g if isinstance(g, tuple) else [g], strict=True
        ):
            assert (a.name, a.calls, a.finalised, a.ring_known, a.within_rule, a.hits) == (
                b.name, b.calls, b.finalised, b.ring_known, b.within_rule, b.hits,
            )  # fmt: skip
            assert b.average == a.average
    assert got.rules == expected.rules
    assert got.worst == expected.worst
    return got


async def _plan(engine: AsyncEngine, store: QualityStore, period: Period) -> str:
    """The plan of the report's worst-calls query, with a planner that would rather sort
    than read a whole index (few rows, as in this small month)."""
    since, until = period.bounds()
    async with engine.connect() as conn:
        await conn.execute(text("SET enable_sort = off"))
        rows = await conn.execute(
            text(
                f"EXPLAIN SELECT * FROM quality_scores WHERE latest AND call_started_at >= :a"
                f" AND call_started_at < :b ORDER BY {EFFECTIVE_SCORE}, call_started_at LIMIT 10"
            ),
            {"a": since, "b": until},
        )
        return "\n".join(r[0] for r in rows)


async def test_the_sql_report_is_the_pure_report(db_url: str) -> None:
    loaded = await load_url(db_url, 3_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    try:
        store = QualityStore(db.session_factory(engine))
        period = Period.of(PeriodKind.MONTH, loaded.last_at - timedelta(days=10), "Asia/Shanghai")
        before = await _same_report(store, period, loaded.last_at)
        assert reports.to_xlsx(before)[:2] == b"PK"
        if db_url.startswith("postgresql"):  # the worst calls are read in the index's order
            plan = await _plan(engine, store, period)
            assert "ix_quality_scores_worst" in plan, plan

        # an inspector confirms every unsure hit of the worst open call, overturns the
        # deductions of another and finalises it
        since, until = period.bounds()
        queue = await store.review_queue(
            since, until, period_key=period.key, percent=0.0, low_below=100.0, limit=10_000
        )
        unsure = next(c for c, n, _ in queue if n > 0)
        for call, n, _ in queue:  # the first with only the scorer's deductions
            found = await store.get(call.call_id)
            if n == 0 and found is not None and found.hits:
                plain = call
                break
        for call, verdict in ((unsure, Verdict.CONFIRMED), (plain, Verdict.OVERTURNED)):
            detail = await store.get(call.call_id)
            assert detail is not None and detail.hits
            for hit in detail.hits:
                if hit.verdict is Verdict.PENDING and (hit.needs_review or call is plain):
                    await store.set_verdict(
                        call.call_id, hit.id, verdict, actor="zhao", now=loaded.last_at
                    )
        await store.finalise(plain.call_id, actor="zhao", now=loaded.last_at)
        after = await _same_report(store, period, loaded.last_at)
        assert (after.total.finalised, after.total.hit_total) != (
            before.total.finalised, before.total.hit_total,
        )  # fmt: skip
    finally:
        await engine.dispose()
