"""The service never freezes: while the month's quality report (JSON and XLSX), the review
queue and the service level by agent run, and while the month's ticket report runs beside
the deadline watch's ticks (overdue marks and 回访 over a few thousand open tickets), a
ticker on the same event loop is never late by more than 50 ms (the heavy work runs in the
database or in a worker thread). The stall counts only the loop thread's own CPU time
(benchmarks/loop_stalls.longest_stall), so a loaded machine does not fail it."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.loop_stalls import longest_stall
from benchmarks.million_calls import load_url
from benchmarks.ticket_watch import fill, service
from hotline.api import app as app_module
from hotline.core import db
from hotline.core.periods import Period, PeriodKind
from hotline.core.settings import Settings
from hotline.quality import reports
from hotline.quality.store import QualityStore
from hotline.telephony.store import CallFilter, CallStore
from hotline.tickets.store import TicketStore
from hotline.tickets.tables import TicketRow
from tests.tickets.test_service import Switch

STALL_MS = 50.0


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
        stall = await longest_stall(work)
        rows = work.result()
        assert isinstance(rows, list) and len(rows) > 100
        assert stall < STALL_MS, f"the event loop stalled {stall:.0f} ms"
    finally:
        await engine.dispose()


async def test_the_deadline_watch_and_a_ticket_report_leave_the_event_loop_free(
    db_url: str,
) -> None:
    loaded = await load_url(db_url, 3_000, 30.0, progress=lambda _: None)
    now = loaded.last_at
    engine = db.make_engine(db_url)
    try:
        store = TicketStore(db.session_factory(engine))
        # 3,000 more open tickets: 500 just late, 1,000 replied and waiting for their 回访,
        # their due time only the migration's lower bound (every one is read and set)
        await fill(store, 3_000, 500, now=now, replied=1_000, followups_due=200, lower_bound=True)
        switch = Switch(answer=False)
        tickets = service(store, now, switch)
        period = Period.of(PeriodKind.MONTH, now, "Asia/Shanghai")

        async def report_beside_the_watch() -> object:
            async def ticks() -> None:
                for _ in range(3):
                    await tickets.watch.tick()

            report, _ = await asyncio.gather(store.period_report(period, now), ticks())
            return report

        work = asyncio.ensure_future(report_beside_the_watch())
        stall = await longest_stall(work)
        report = work.result()
        assert report.created >= 3_000  # type: ignore[attr-defined]
        async with store.sessions() as s:
            late = await s.scalar(select(func.count()).where(TicketRow.overdue.is_(True)))
            waiting = await s.scalar(select(func.count()).where(TicketRow.followup_due <= now))
        assert (late or 0) >= 500 and waiting == 0  # the ticks did their work
        assert switch.dialled  # and placed the 回访 that were due
        assert stall < STALL_MS, f"the event loop stalled {stall:.0f} ms"
    finally:
        await engine.dispose()


async def test_a_full_garbage_collection_no_longer_walks_the_start_up_heap(
    tmp_path: Path,
) -> None:
    container = app_module.build(
        Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/h.db")
    )
    await app_module.start(container)
    try:
        assert gc.get_freeze_count() > 100_000  # modules, settings, policies
        cpu = time.thread_time()
        gc.collect()
        assert (time.thread_time() - cpu) * 1000 < STALL_MS
    finally:
        await app_module.stop(container)
    assert gc.get_freeze_count() == 0
