"""Every filter the README lists for calls, recordings and tickets has an index the planner
uses: on PostgreSQL, with a generated hotline of 20,000 calls (benchmarks/million_calls.py)
vacuumed and analysed, each list's query is explained, and none reads its big table by a
sequential scan.

The total is counted up to the cap as at a million calls, scaled to this table's size (a
cap of 10,000 of 20,000 rows would make any plan a full read). The filter's own read is the
total's statement, the last one of a page; the page itself joins its few keys to their rows
by primary key (a nested loop at a million rows, a hash join over a read of the few
thousand rows here). The plans at a million calls: benchmarks/EXPLAIN.md.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from benchmarks.explain_lists import explained, list_reads
from benchmarks.million_calls import load_url
from hotline.core import db, paging

pytestmark = pytest.mark.postgres
BIG = ("calls", "recordings", "tickets")


async def test_each_list_filter_of_the_readme_is_read_through_an_index(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = await load_url(pg_url, 20_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(pg_url)
    try:
        async with engine.connect() as conn:  # as autovacuum leaves it after the load
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        monkeypatch.setattr(paging, "COUNT_CAP", 200)  # 1 % of the table, as at 1M
        reads = list_reads(
            db.session_factory(engine), loaded.sample_agent, loaded.sample_call, loaded.last_at
        )
        reads = {name: read for name, read in reads.items() if "offset" not in name}
        scans, plans = {}, []
        for name, read in reads.items():
            *_, total = await explained(engine, read)
            plans.append(f"{name}:\n{total}")
            scans[name] = [t for t in BIG if f"Seq Scan on {t}" in total]
        assert len(scans) == 30
        assert {name: seq for name, seq in scans.items() if seq} == {}, "\n\n".join(plans)
    finally:
        await engine.dispose()
