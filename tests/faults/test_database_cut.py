"""Fault: the database connection is cut mid-run (a TCP proxy between Hotline and
PostgreSQL drops every connection and refuses new ones, then lets them through again).
Calls that end meanwhile are held and stored when it is back; the jobs wait (no attempt);
everything is archived, transcribed, scored and ticketed once, nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.core.jobs import JobState
from tests.faults import rig
from tests.faults.proxy import Proxy


@pytest.mark.postgres
async def test_a_database_cut_mid_run_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    proxy = Proxy("127.0.0.1", 5432)
    await proxy.start()
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    s = rig.settings(tmp_path, via_proxy)
    try:
        async with rig.running(s, rig.template(tmp_path)) as r:
            await r.end_call(1)
            await r.end_call(2)
            await proxy.cut()  # PostgreSQL is away
            during = [asyncio.create_task(r.end_call(n)) for n in (3, 4, 5)]
            await asyncio.sleep(4)
            assert not any(t.done() for t in during)  # held, not dropped
            await proxy.restore()
            await asyncio.gather(*during)
            counts = await r.settle(timeout=60)
            print(counts.line("database cut 4 s (PostgreSQL, procrastinate)"))
            assert counts.nothing_lost and counts.calls_ended == 5, counts
            assert await r.c.jobs.status(state=JobState.FAILED) == []
    finally:
        await proxy.close()
