"""The service never freezes: while the month's quality report (JSON and XLSX), the review
queue and the service level by agent run, a ticker on the same event loop is never late by
more than 50 ms (the heavy work runs in the database or in a worker thread)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.core.periods import Period, PeriodKind
from hotline.quality import reports
from hotline.quality.store import QualityStore
from hotline.telephony.store import CallFilter, CallStore

STALL_MS = 50.0


async def _longest_stall(work: asyncio.Future[object], tick_s: float = 0.005) -> float:
    """The event loop's longest delay (ms) of a 5 ms sleep while `work` runs."""
    worst = 0.0
    while not work.done():
        t0 = time.perf_counter()
        await asyncio.sleep(tick_s)
        worst = max(worst, (time.perf_counter() - t0 - tick_s) * 1000)
    await work
    return worst


async def test_reports_leave_the_event_loop_free(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/loop.db"
    loaded = await load_url(url, 6_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(url)
    try:
        sessions = db.session_factory(engine)
        quality, calls = QualityStore(sessions), CallStore(sessions)
        period = Period.of(PeriodKind.MONTH, loaded.last_at - timedelta(days=10), "Asia/Shanghai")
        since, until = period.bounds()

        async def month() -> object:
            report = await quality.report(period, loaded.last_at)
            await asyncio.to_thread(reports.to_xlsx, report)
            await quality.review_queue(
                since, until, period_key=period.key, percent=5.0, low_below=90.0, limit=200
            )
            return await calls.stats(CallFilter(since=since, until=until), "agent")

        work = asyncio.ensure_future(month())
        stall = await _longest_stall(work)
        rows = work.result()
        assert isinstance(rows, list) and len(rows) > 100
        assert stall < STALL_MS, f"the event loop stalled {stall:.0f} ms"
    finally:
        await engine.dispose()
