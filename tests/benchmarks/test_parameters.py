"""No statement binds more parameters when there is more data: a month of a big hotline must
not hit the driver's limit (asyncpg: 32,767), as the monthly quality report once did with
one id per scored call in an `IN (…)` list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.quality.store import QualityStore
from hotline.telephony.store import CallFilter, CallStore


async def _most_parameters(url: str, calls: int) -> int:
    loaded = await load_url(url, calls, 10.0, progress=lambda _: None)
    engine = db.make_engine(url)
    most = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        nonlocal most
        if not many:
            most = max(most, len(params or ()))

    try:
        sessions = db.session_factory(engine)
        since, until = loaded.first_at - timedelta(days=1), loaded.last_at + timedelta(days=1)
        quality = QualityStore(sessions)
        details = await quality.period_details(since, until)
        assert sum(len(d.hits) for d in details) > 0
        await quality.candidates(since, until)
        await quality.list_scores(since=since, until=until, only_agent="PJSIP/1001")
        calls_ = CallStore(sessions)
        await calls_.stats(CallFilter(since=since, until=until), "agent")
        await calls_.search(CallFilter(since=since, only_agent="PJSIP/1001"))
    finally:
        await engine.dispose()
    return most


async def test_reports_bind_as_many_parameters_for_3000_calls_as_for_300(tmp_path: Path) -> None:
    small = await _most_parameters(f"sqlite+aiosqlite:///{tmp_path / 'small.db'}", 300)
    big = await _most_parameters(f"sqlite+aiosqlite:///{tmp_path / 'big.db'}", 3_000)

    assert big == small
    assert big < 50
