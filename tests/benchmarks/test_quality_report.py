"""The quality report aggregated by the database equals the pure aggregation
(reports.build_report over every scored call of the period), on a generated month."""

from __future__ import annotations

from datetime import timedelta

import pytest

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.core.periods import Period, PeriodKind
from hotline.quality import reports
from hotline.quality.store import QualityStore


async def test_the_sql_report_is_the_pure_report(db_url: str) -> None:
    loaded = await load_url(db_url, 3_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    try:
        store = QualityStore(db.session_factory(engine))
        period = Period.of(PeriodKind.MONTH, loaded.last_at - timedelta(days=10), "Asia/Shanghai")
        since, until = period.bounds()
        details = await store.period_details(since, until)
        expected = reports.build_report(
            [reports.report_call(d) for d in details], period, loaded.last_at
        )
        got = await store.report(period, loaded.last_at)

        assert expected.total.calls > 100 and expected.total.hit_total > 0
        for name in ("total", "agents", "teams"):
            e, g = getattr(expected, name), getattr(got, name)
            for a, b in zip(
                e if isinstance(e, tuple) else [e], g if isinstance(g, tuple) else [g], strict=True
            ):
                assert (a.name, a.calls, a.finalised, a.ring_known, a.within_rule, a.hits) == (
                    b.name, b.calls, b.finalised, b.ring_known, b.within_rule, b.hits,
                )  # fmt: skip
                assert b.average == pytest.approx(a.average, abs=0.051)
        assert got.rules == expected.rules
        assert got.worst == expected.worst
        assert reports.to_xlsx(got)[:2] == b"PK"
    finally:
        await engine.dispose()
